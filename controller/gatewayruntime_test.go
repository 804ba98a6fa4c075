package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewaylisters "sigs.k8s.io/gateway-api/pkg/client/listers/apis/v1"

	"weir.dev/weir/controller/gatewayservice"
)

// A Gateway's Service has the ports of its own HTTP(S) listeners and of
// the ListenerSets that name it, each once; other protocols and other
// Gateways' sets are left out.
func TestGatewayServicePortsIncludeListenerSets(t *testing.T) {
	gw := &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "apps"}, Spec: gatewayv1.GatewaySpec{
		Listeners: []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}}}
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	other := gatewayv1.Namespace("other")
	for _, ls := range []*gatewayv1.ListenerSet{
		{ObjectMeta: metav1.ObjectMeta{Name: "mine", Namespace: "apps"}, Spec: gatewayv1.ListenerSetSpec{ParentRef: gatewayv1.ParentGatewayReference{Name: "web"},
			Listeners: []gatewayv1.ListenerEntry{{Name: "a", Port: 80, Protocol: gatewayv1.HTTPProtocolType},
				{Name: "b", Port: 8443, Protocol: gatewayv1.HTTPSProtocolType}, {Name: "c", Port: 9000, Protocol: gatewayv1.TCPProtocolType}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "theirs", Namespace: "apps"}, Spec: gatewayv1.ListenerSetSpec{
			ParentRef: gatewayv1.ParentGatewayReference{Name: "web", Namespace: &other},
			Listeners: []gatewayv1.ListenerEntry{{Name: "a", Port: 81, Protocol: gatewayv1.HTTPProtocolType}}}},
	} {
		require.NoError(t, idx.Add(ls))
	}
	ports := listenerPorts(gw, setListeners(gatewaylisters.NewListenerSetLister(idx), gw))
	assert.Equal(t, []gatewayservice.Port{{Port: 80, Protocol: "HTTP"}, {Port: 8443, Protocol: "HTTPS"}}, ports)
	assert.Equal(t, []gatewayservice.Port{{Port: 80, Protocol: "HTTP"}}, listenerPorts(gw, setListeners(nil, gw)))
}
