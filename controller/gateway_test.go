package controller

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/reference"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"weir.dev/weir/controller/translate"
)

// crds is a discovery that says whether the Gateway API is installed.
type crds struct {
	mu        sync.Mutex
	installed bool
	asked     int
}

func (d *crds) set(installed bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.installed = installed
}

func (d *crds) ServerResourcesForGroupVersion(gv string) (*metav1.APIResourceList, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.asked++
	if !d.installed || gv != gatewayGroupVersion {
		return nil, &apierrors.StatusError{ErrStatus: metav1.Status{Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound}}
	}
	l := &metav1.APIResourceList{GroupVersion: gv}
	for _, r := range gatewayResources {
		l.APIResources = append(l.APIResources, metav1.APIResource{Name: r})
	}
	return l, nil
}

func (c *Controller) gatewayInputs(t *testing.T) *translate.Inputs {
	t.Helper()
	in := &translate.Inputs{}
	require.NoError(t, c.gw.addInputs(in))
	return in
}

// Weir starts and serves Ingress while the Gateway API CRDs are missing,
// and starts watching Gateway API objects when they appear, without a
// restart; when they go, it stops.
func TestGatewayAPIWatchedOnceItsCRDsAppear(t *testing.T) {
	d := &crds{}
	gwClient := gatewayfake.NewSimpleClientset() // NewClientset has no type information for Gateway API kinds
	opts := Options{Gateway: &GatewayOptions{Client: gwClient, Discovery: d, PollInterval: 20 * time.Millisecond}}
	_, rec, c := start(t, opts, class(), service("web"), slice("web", "10.0.0.1"), ingress("web", "a.test", "web", nil))
	dumpHas(t, rec, "host a.test")
	assert.False(t, c.gw.ready())
	assert.Empty(t, c.gatewayInputs(t).Gateways)

	ctx := context.Background()
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: "weir", Listeners: []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}}}
	_, err := gwClient.GatewayV1().Gateways("default").Create(ctx, gw, metav1.CreateOptions{})
	require.NoError(t, err)
	before := rec.count()
	d.set(true)
	require.Eventually(t, c.gw.ready, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return len(c.gatewayInputs(t).Gateways) == 1 }, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return rec.count() > before }, 10*time.Second, 5*time.Millisecond,
		"a rebuild with the Gateway objects in it")
	obj := c.objectFor(translate.ObjectRef{Kind: "Gateway", Namespace: "default", Name: "web"})
	require.NotNil(t, obj, "a problem about a Gateway finds its object")
	ref, err := reference.GetReference(eventScheme(), obj)
	require.NoError(t, err, "and an Event can name it")
	assert.Equal(t, "Gateway", ref.Kind)

	d.set(false)
	require.Eventually(t, func() bool { return !c.gw.ready() }, 10*time.Second, 5*time.Millisecond)
	assert.Empty(t, c.gatewayInputs(t).Gateways)
	dumpHas(t, rec, "host a.test")
}

// Weir's own status writes (and anyone's) leave generation, labels and
// annotations alone and trigger no rebuild; spec changes do.
func TestGatewayStatusOnlyUpdatesAreDropped(t *testing.T) {
	a := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: "r", ResourceVersion: "1", Generation: 1}}
	status := a.DeepCopy()
	status.ResourceVersion = "2"
	status.Status.Parents = []gatewayv1.RouteParentStatus{{ControllerName: translate.DefaultGatewayControllerName}}
	assert.False(t, changed(a, status))

	spec := a.DeepCopy()
	spec.ResourceVersion, spec.Generation = "3", 2
	assert.True(t, changed(a, spec))

	ann := a.DeepCopy()
	ann.ResourceVersion, ann.Annotations = "4", map[string]string{"x": "y"}
	assert.True(t, changed(a, ann))

	for _, pair := range [][2]metav1.Object{
		{&gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "1", Generation: 1}}, &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "2", Generation: 1}}},
		{&gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "1", Generation: 1}}, &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "2", Generation: 1}}},
		{&gatewayv1.GRPCRoute{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "1", Generation: 1}}, &gatewayv1.GRPCRoute{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "2", Generation: 1}}},
	} {
		assert.False(t, changed(pair[0], pair[1]), "%T", pair[0])
	}
	// A ReferenceGrant has no status: every update counts.
	rg := &gatewayv1.ReferenceGrant{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "1"}}
	rg2 := rg.DeepCopy()
	rg2.ResourceVersion = "2"
	assert.True(t, changed(rg, rg2))
}

// Without per-Gateway Services every Gateway is published at Weir's own
// addresses; a spec.addresses request cannot be honoured then.
func TestGatewaysShareThePublishedAddressesWithoutServices(t *testing.T) {
	c, err := New(fake.NewClientset(), Options{Status: &StatusOptions{PublishStatusAddress: "192.0.2.1, lb.example.net"},
		Gateway: &GatewayOptions{Client: gatewayfake.NewSimpleClientset()}}, &recorder{}, nil, nil)
	require.NoError(t, err)
	addrs := c.sharedAddresses(context.Background())
	got, unusable := addrs(&gatewayv1.Gateway{})
	require.Len(t, got, 2)
	assert.Equal(t, gatewayv1.IPAddressType, *got[0].Type)
	assert.Equal(t, "192.0.2.1", got[0].Value)
	assert.Equal(t, gatewayv1.HostnameAddressType, *got[1].Type)
	assert.Empty(t, unusable)
	_, unusable = addrs(&gatewayv1.Gateway{Spec: gatewayv1.GatewaySpec{Addresses: []gatewayv1.GatewaySpecAddress{{Value: "192.0.2.9"}}}})
	assert.NotEmpty(t, unusable)
}
