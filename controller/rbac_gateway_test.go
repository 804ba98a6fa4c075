package controller

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"weir.dev/weir/controller/gatewayservice"
	"weir.dev/weir/controller/translate"
)

// builtGatewayAPI is what `kustomize build deploy/overlays/gateway-api`
// applies (kept equal to it by deploy/helm/test).
const builtGatewayAPI = "../deploy/helm/test/testdata/gateway-api.golden.yaml"

func gatewayObject() *gatewayv1.Gateway {
	same := gatewayv1.NamespacesFromSame
	return &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "gw"},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: "weir",
			Listeners:        []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}},
			AllowedListeners: &gatewayv1.AllowedListeners{Namespaces: &gatewayv1.ListenerNamespaces{From: &same}}}}
}

// gatewayExtras are a ListenerSet of the Gateway and a BackendTLSPolicy of
// the routes' Service (its CA in ConfigMap "ca").
func gatewayExtras() (*gatewayv1.ListenerSet, *gatewayv1.BackendTLSPolicy) {
	ls := &gatewayv1.ListenerSet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "extra"},
		Spec: gatewayv1.ListenerSetSpec{ParentRef: gatewayv1.ParentGatewayReference{Name: "gw"},
			Listeners: []gatewayv1.ListenerEntry{{Name: "alt", Port: 8080, Protocol: gatewayv1.HTTPProtocolType}}}}
	p := &gatewayv1.BackendTLSPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "tls"},
		Spec: gatewayv1.BackendTLSPolicySpec{
			TargetRefs: []gatewayv1.LocalPolicyTargetReferenceWithSectionName{{LocalPolicyTargetReference: gatewayv1.LocalPolicyTargetReference{
				Group: "", Kind: "Service", Name: "web"}}},
			Validation: gatewayv1.BackendTLSPolicyValidation{Hostname: "web.test",
				CACertificateRefs: []gatewayv1.LocalObjectReference{{Group: "", Kind: "ConfigMap", Name: "ca"}}}}}
	return ls, p
}

func gatewayRoutes() (*gatewayv1.HTTPRoute, *gatewayv1.GRPCRoute) {
	parent := []gatewayv1.ParentReference{{Name: "gw"}}
	backend := gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "web", Port: ptrTo32(80)}}
	h := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: gatewayv1.HTTPRouteSpec{CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: parent},
			Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: backend}}}}}}
	g := &gatewayv1.GRPCRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "grpc"},
		Spec: gatewayv1.GRPCRouteSpec{CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: parent},
			Hostnames: []gatewayv1.Hostname{"grpc.test"},
			Rules:     []gatewayv1.GRPCRouteRule{{BackendRefs: []gatewayv1.GRPCBackendRef{{BackendRef: backend}}}}}}
	return h, g
}

func ptrTo32(v gatewayv1.PortNumber) *gatewayv1.PortNumber { return &v }

// TestGatewayRBACIsExactlyWhatWeirUses runs the controller with the Gateway
// API on (its CRDs installed, one LoadBalancer Service per Gateway, a
// ListenerSet, a BackendTLSPolicy with a CA ConfigMap) against
// the RBAC of the built deploy/overlays/gateway-api: no request may be
// denied, and every grant of deploy/components/gateway-api must be used.
func TestGatewayRBACIsExactlyWhatWeirUses(t *testing.T) {
	const ns = "weir-system"
	front := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "weir", Namespace: ns},
		Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "192.0.2.7"}}}}}
	client := fake.NewClientset(class(), service("web"), front,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ca"}, Data: map[string]string{"ca.crt": "not a certificate"}})
	h, g := gatewayRoutes()
	// Made through the typed client: the tracker would file a Gateway
	// given to NewSimpleClientset under another version.
	gwClient := gatewayfake.NewSimpleClientset()
	setup := context.Background()
	v1 := gwClient.GatewayV1()
	_, err := v1.GatewayClasses().Create(setup, &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "weir"},
		Spec: gatewayv1.GatewayClassSpec{ControllerName: translate.DefaultGatewayControllerName}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = v1.Gateways("default").Create(setup, gatewayObject(), metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = v1.HTTPRoutes("default").Create(setup, h, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = v1.GRPCRoutes("default").Create(setup, g, metav1.CreateOptions{})
	require.NoError(t, err)
	ls, policy := gatewayExtras()
	_, err = v1.ListenerSets("default").Create(setup, ls, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = v1.BackendTLSPolicies("default").Create(setup, policy, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = v1.ReferenceGrants("default").Create(setup, &gatewayv1.ReferenceGrant{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "rg"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	z := &authorizer{rules: readRBAC(t, builtGatewayAPI), used: map[string]bool{}}
	z.install(client)
	z.install(gwClient)
	// Each kind's first status write meets a conflict (another writer), as
	// happens in a cluster: Weir reads the object again (get) and retries.
	var conflictMu sync.Mutex
	conflicted := map[string]bool{}
	gwClient.PrependReactor("update", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		conflictMu.Lock()
		defer conflictMu.Unlock()
		res := a.GetResource().Resource
		if a.GetSubresource() != "status" || conflicted[res] {
			return false, nil, nil
		}
		conflicted[res] = true
		return true, nil, apierrors.NewConflict(a.GetResource().GroupResource(), "", errors.New("written by another"))
	})

	c, err := New(client, Options{HoldOff: 10 * time.Millisecond, Events: true,
		Status: &StatusOptions{PublishService: ns + "/weir", ElectionID: "weir-leader", ElectionNamespace: ns, Identity: "weir-0"},
		Gateway: &GatewayOptions{Client: gwClient, Discovery: &crds{installed: true}, PollInterval: 20 * time.Millisecond,
			Services: &ServiceOptions{Namespace: ns}}}, &recorder{}, nil, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	// The test reads and writes through the trackers, past the authorizer.
	services := corev1.SchemeGroupVersion.WithResource("services")
	gatewayServices := func() []corev1.Service {
		o, err := client.Tracker().List(services, corev1.SchemeGroupVersion.WithKind("Service"), ns)
		require.NoError(t, err)
		var out []corev1.Service
		sel := labels.SelectorFromSet(labels.Set{gatewayservice.LabelManagedBy: gatewayservice.ManagedBy})
		for _, s := range o.(*corev1.ServiceList).Items {
			if sel.Matches(labels.Set(s.Labels)) {
				out = append(out, s)
			}
		}
		return out
	}
	if !assert.Eventually(t, func() bool { return len(gatewayServices()) == 1 }, 30*time.Second, 20*time.Millisecond, "the Gateway's Service") {
		z.mu.Lock()
		in := c.gatewayInputs(t)
		t.Fatalf("denied %v; inputs %d gateways %d routes; result gateways %+v problems %s", z.denied, len(in.Gateways), len(in.HTTPRoutes), c.Last().Gateways, translate.FormatProblems(c.Last().Problems))
	}

	// Someone changes the Service's selector: Weir puts it back (update).
	// (Not through the Gateway: the fake tracker's status writes replace
	// whole objects, so a spec change could be lost to one.)
	svc := gatewayServices()[0]
	svc.Spec.Selector = map[string]string{"app": "other"}
	require.NoError(t, client.Tracker().Update(services, &svc, ns))
	require.Eventually(t, func() bool {
		s := gatewayServices()
		return len(s) == 1 && s[0].Spec.Selector["app.kubernetes.io/name"] == "weir"
	}, 30*time.Second, 20*time.Millisecond, "the Service's selector restored")
	if !assert.Eventually(t, func() bool { return len(z.unused("weir-gateway-api")) == 0 }, 30*time.Second, 20*time.Millisecond,
		"status written to every kind") {
		t.Fatalf("unused: %v", z.unused("weir-gateway-api"))
	}
	require.NoError(t, gwClient.Tracker().Delete(gatewayv1.SchemeGroupVersion.WithResource("gateways"), "default", "gw"))
	require.Eventually(t, func() bool { return len(gatewayServices()) == 0 }, 30*time.Second, 20*time.Millisecond,
		"the Service of a Gateway that is gone")

	if !assert.Eventually(t, func() bool { return len(z.unused("weir-gateway-api", "weir-gateway-services")) == 0 },
		30*time.Second, 50*time.Millisecond) {
		t.Errorf("deploy/components/gateway-api grants what Weir never uses: %v", z.unused("weir-gateway-api", "weir-gateway-services"))
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	assert.Empty(t, z.denied, "deploy/overlays/gateway-api's RBAC denies requests Weir makes")
}
