package gatewaystatus

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"
	gatewaylisters "sigs.k8s.io/gateway-api/pkg/client/listers/apis/v1"

	"weir.dev/weir/controller/translate"
)

const weir = "weir.dev/gateway-controller"

var (
	t0 = metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 = metav1.NewTime(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))
)

// world is a fake API server and a cache filled from the same objects.
type world struct {
	client  *fake.Clientset
	listers Listers
	writer  *Writer
}

func newWorld(t *testing.T, objs ...runtime.Object) *world {
	t.Helper()
	idx := func() cache.Indexer {
		return cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	}
	classes, gateways, httpRoutes, grpcRoutes, policies, sets := idx(), idx(), idx(), idx(), idx(), idx()
	// The fake's constructor files aliased kinds under v1beta1; add each
	// object under its v1 resource instead.
	client := fake.NewSimpleClientset()
	for _, o := range objs {
		var resource string
		switch o.(type) {
		case *gatewayv1.GatewayClass:
			require.NoError(t, classes.Add(o))
			resource = "gatewayclasses"
		case *gatewayv1.Gateway:
			require.NoError(t, gateways.Add(o))
			resource = "gateways"
		case *gatewayv1.HTTPRoute:
			require.NoError(t, httpRoutes.Add(o))
			resource = "httproutes"
		case *gatewayv1.GRPCRoute:
			require.NoError(t, grpcRoutes.Add(o))
			resource = "grpcroutes"
		case *gatewayv1.BackendTLSPolicy:
			require.NoError(t, policies.Add(o))
			resource = "backendtlspolicies"
		case *gatewayv1.ListenerSet:
			require.NoError(t, sets.Add(o))
			resource = "listenersets"
		}
		m := o.(metav1.Object)
		require.NoError(t, client.Tracker().Create(gatewayv1.SchemeGroupVersion.WithResource(resource), o, m.GetNamespace()))
	}
	w := &world{client: client, listers: Listers{
		GatewayClasses: gatewaylisters.NewGatewayClassLister(classes), Gateways: gatewaylisters.NewGatewayLister(gateways),
		HTTPRoutes: gatewaylisters.NewHTTPRouteLister(httpRoutes), GRPCRoutes: gatewaylisters.NewGRPCRouteLister(grpcRoutes),
		BackendTLSPolicies: gatewaylisters.NewBackendTLSPolicyLister(policies), ListenerSets: gatewaylisters.NewListenerSetLister(sets)}}
	w.writer = New(w.client, weir, nil)
	w.writer.Now = func() metav1.Time { return t1 }
	return w
}

// updates counts the status writes.
func (w *world) updates() int {
	n := 0
	for _, a := range w.client.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" {
			n++
		}
	}
	return n
}

func cond(typ string, status metav1.ConditionStatus, reason string, gen int64) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, ObservedGeneration: gen}
}

func TestGatewayClassStatusWrittenOnceWithTransitionTimes(t *testing.T) {
	gc := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "weir", Generation: 2},
		Status: gatewayv1.GatewayClassStatus{Conditions: []metav1.Condition{
			{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: 1, LastTransitionTime: t0}}}}
	w := newWorld(t, gc)
	res := &translate.Result{GatewayClasses: []translate.GatewayClassStatus{{Name: "weir", Generation: 2,
		Status: gatewayv1.GatewayClassStatus{Conditions: []metav1.Condition{cond("Accepted", metav1.ConditionTrue, "Accepted", 2)},
			SupportedFeatures: []gatewayv1.SupportedFeature{{Name: "Gateway"}, {Name: "HTTPRoute"}}}}}}
	require.NoError(t, w.writer.Sync(context.Background(), res, w.listers, nil))
	got, err := w.client.GatewayV1().GatewayClasses().Get(context.Background(), "weir", metav1.GetOptions{})
	require.NoError(t, err)
	require.Len(t, got.Status.Conditions, 1)
	assert.Equal(t, int64(2), got.Status.Conditions[0].ObservedGeneration, "observedGeneration is the current one")
	assert.True(t, got.Status.Conditions[0].LastTransitionTime.Equal(&t0), "status unchanged: the transition time stays")
	assert.Len(t, got.Status.SupportedFeatures, 2)
	assert.Equal(t, 1, w.updates())

	// The cache catches up: nothing more to write.
	w2 := newWorld(t, got)
	require.NoError(t, w2.writer.Sync(context.Background(), res, w2.listers, nil))
	assert.Equal(t, 0, w2.updates())
}

func TestStaleGenerationIsNotWritten(t *testing.T) {
	gc := &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: "weir", Generation: 3}}
	w := newWorld(t, gc)
	res := &translate.Result{GatewayClasses: []translate.GatewayClassStatus{{Name: "weir", Generation: 2,
		Status: gatewayv1.GatewayClassStatus{Conditions: []metav1.Condition{cond("Accepted", metav1.ConditionTrue, "Accepted", 2)}}}}}
	require.NoError(t, w.writer.Sync(context.Background(), res, w.listers, nil))
	assert.Equal(t, 0, w.updates(), "the rebuild for generation 3 will write")
}

func gatewayWithStatus() (*gatewayv1.Gateway, translate.GatewayStatus) {
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "web", Generation: 1}}
	gs := translate.GatewayStatus{Namespace: "apps", Name: "web", Generation: 1, Status: gatewayv1.GatewayStatus{
		Conditions: []metav1.Condition{cond("Accepted", metav1.ConditionTrue, "Accepted", 1), cond("Programmed", metav1.ConditionTrue, "Programmed", 1)},
		Listeners: []gatewayv1.ListenerStatus{{Name: "http", AttachedRoutes: 2,
			SupportedKinds: []gatewayv1.RouteGroupKind{{Kind: "HTTPRoute"}},
			Conditions:     []metav1.Condition{cond("Programmed", metav1.ConditionTrue, "Programmed", 1)}}}}}
	return gw, gs
}

func TestGatewayStatusCarriesAddresses(t *testing.T) {
	gw, gs := gatewayWithStatus()
	w := newWorld(t, gw)
	res := &translate.Result{Gateways: []translate.GatewayStatus{gs}}
	ip := gatewayv1.IPAddressType
	var addrs []gatewayv1.GatewayStatusAddress
	lb := func(*gatewayv1.Gateway) ([]gatewayv1.GatewayStatusAddress, string) { return addrs, "" }
	require.NoError(t, w.writer.Sync(context.Background(), res, w.listers, lb))
	got, err := w.client.GatewayV1().Gateways("apps").Get(context.Background(), "web", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, "AddressNotAssigned", got.Status.Conditions[1].Reason, "no address from the load balancer yet")
	assert.Equal(t, int32(2), got.Status.Listeners[0].AttachedRoutes)

	addrs = []gatewayv1.GatewayStatusAddress{{Type: &ip, Value: "192.0.2.1"}}
	w2 := newWorld(t, got)
	require.NoError(t, w2.writer.Sync(context.Background(), res, w2.listers, lb))
	got, err = w2.client.GatewayV1().Gateways("apps").Get(context.Background(), "web", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, metav1.ConditionTrue, got.Status.Conditions[1].Status)
	assert.Equal(t, addrs, got.Status.Addresses)
	assert.True(t, got.Status.Listeners[0].Conditions[0].LastTransitionTime.Equal(&t1))
}

// A write that conflicts is retried on the object read afresh.
func TestConflictIsRetried(t *testing.T) {
	gw, gs := gatewayWithStatus()
	w := newWorld(t, gw)
	conflicts := 1
	w.client.PrependReactor("update", "gateways", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts > 0 {
			conflicts--
			return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "gateways"}, "web", nil)
		}
		return false, nil, nil
	})
	require.NoError(t, w.writer.Sync(context.Background(), &translate.Result{Gateways: []translate.GatewayStatus{gs}}, w.listers, nil))
	got, err := w.client.GatewayV1().Gateways("apps").Get(context.Background(), "web", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Len(t, got.Status.Listeners, 1)
	assert.Equal(t, 2, w.updates())
}

func TestRouteParentsKeepOthersAndDropStaleOnes(t *testing.T) {
	ns := gatewayv1.Namespace("apps")
	ours := gatewayv1.ParentReference{Name: "web", Namespace: &ns}
	gone := gatewayv1.ParentReference{Name: "old"}
	theirs := gatewayv1.ParentReference{Name: "other"}
	route := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "r", Generation: 4}}
	route.Status.Parents = []gatewayv1.RouteParentStatus{
		{ParentRef: theirs, ControllerName: "example.com/other", Conditions: []metav1.Condition{cond("Accepted", metav1.ConditionTrue, "Accepted", 4)}},
		{ParentRef: gone, ControllerName: weir, Conditions: []metav1.Condition{cond("Accepted", metav1.ConditionTrue, "Accepted", 3)}},
		{ParentRef: ours, ControllerName: weir, Conditions: []metav1.Condition{
			{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: 3, LastTransitionTime: t0}}},
	}
	w := newWorld(t, route)
	res := &translate.Result{Routes: []translate.RouteStatus{{Kind: "HTTPRoute", Namespace: "apps", Name: "r", Generation: 4,
		Parents: []gatewayv1.RouteParentStatus{{ParentRef: ours, ControllerName: weir, Conditions: []metav1.Condition{
			cond("Accepted", metav1.ConditionTrue, "Accepted", 4), cond("ResolvedRefs", metav1.ConditionFalse, "BackendNotFound", 4)}}}}}}
	require.NoError(t, w.writer.Sync(context.Background(), res, w.listers, nil))
	got, err := w.client.GatewayV1().HTTPRoutes("apps").Get(context.Background(), "r", metav1.GetOptions{})
	require.NoError(t, err)
	require.Len(t, got.Status.Parents, 2)
	assert.Equal(t, "example.com/other", string(got.Status.Parents[0].ControllerName), "another controller's entry is kept")
	assert.Equal(t, ours, got.Status.Parents[1].ParentRef, "the parentRef copied verbatim; the stale entry is gone")
	c := got.Status.Parents[1].Conditions
	assert.True(t, c[0].LastTransitionTime.Equal(&t0), "Accepted stayed True")
	assert.Equal(t, int64(4), c[0].ObservedGeneration)
	assert.True(t, c[1].LastTransitionTime.Equal(&t1))
}
