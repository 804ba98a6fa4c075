package gatewayservice

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func gateway(ns, name string) *gatewayv1.Gateway {
	return &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + "-" + name)}}
}

// start runs a Manager on client until the test ends.
func start(t *testing.T, client *fake.Clientset) *Manager {
	t.Helper()
	m, err := New(client, Options{Namespace: "weir-system"}, func() {}, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); m.Shutdown() })
	m.Start(ctx)
	require.True(t, cache.WaitForCacheSync(ctx.Done(), m.synced))
	return m
}

// eventually waits (bounded) until the Manager's cache shows what f wants.
func eventually(t *testing.T, f func() bool) {
	t.Helper()
	require.Eventually(t, f, 5*time.Second, 5*time.Millisecond)
}

func services(t *testing.T, client *fake.Clientset) []corev1.Service {
	t.Helper()
	l, err := client.CoreV1().Services("weir-system").List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	return l.Items
}

// Two Gateways on port 80 get one LoadBalancer Service each, with
// different container ports; the allocation survives a restart and a new
// listener port keeps the old ones; a Gateway that goes loses its Service.
func TestServicesPerGatewayWithStablePorts(t *testing.T) {
	client := fake.NewClientset()
	m := start(t, client)
	a, b := gateway("weir-system", "a"), gateway("apps", "b")
	wants := []Want{{Gateway: a, Ports: []Port{{80, "HTTP"}}}, {Gateway: b, Ports: []Port{{80, "HTTP"}}}}
	require.NoError(t, m.Sync(context.Background(), wants))
	eventually(t, func() bool {
		_, okA := m.ContainerPort("weir-system", "a", 80)
		_, okB := m.ContainerPort("apps", "b", 80)
		return okA && okB
	})
	pa, _ := m.ContainerPort("weir-system", "a", 80)
	pb, _ := m.ContainerPort("apps", "b", 80)
	assert.NotEqual(t, pa, pb, "two Gateways on port 80 are told apart by container port")
	assert.Equal(t, []int32{20001, 20000}, []int32{pa, pb}, "allocated in Gateway order: apps/b first")

	for _, svc := range services(t, client) {
		assert.Equal(t, corev1.ServiceTypeLoadBalancer, svc.Spec.Type)
		assert.Equal(t, map[string]string{"app.kubernetes.io/name": "weir"}, svc.Spec.Selector)
		gwName := svc.Labels[LabelGatewayName]
		assert.Contains(t, []string{"a", "b"}, gwName)
		if gwName == "a" {
			require.Len(t, svc.OwnerReferences, 1, "same namespace: owned by the Gateway")
			assert.Equal(t, types.UID("weir-system-a"), svc.OwnerReferences[0].UID)
		} else {
			assert.Empty(t, svc.OwnerReferences, "Kubernetes refuses owners in another namespace")
		}
	}

	// A new replica (or a restart) reads the allocation back; b gains a
	// port and keeps its first one.
	m2 := start(t, client)
	p, ok := m2.ContainerPort("apps", "b", 80)
	require.True(t, ok)
	assert.Equal(t, pb, p)
	wants[1].Ports = append(wants[1].Ports, Port{443, "HTTPS"})
	wants = wants[1:] // and a is gone
	require.NoError(t, m2.Sync(context.Background(), wants))
	eventually(t, func() bool { _, ok := m2.ContainerPort("apps", "b", 443); return ok })
	p, _ = m2.ContainerPort("apps", "b", 80)
	assert.Equal(t, pb, p, "an allocated port stays with its listener")
	p443, _ := m2.ContainerPort("apps", "b", 443)
	assert.Equal(t, int32(20002), p443, "a port freed in this Sync is not handed out in the same Sync")
	eventually(t, func() bool { return len(services(t, client)) == 1 })
	assert.Equal(t, ServiceName("apps", "b"), services(t, client)[0].Name)
}

func TestSyncWritesOnlyChanges(t *testing.T) {
	client := fake.NewClientset()
	m := start(t, client)
	wants := []Want{{Gateway: gateway("apps", "b"), Ports: []Port{{80, "HTTP"}}}}
	require.NoError(t, m.Sync(context.Background(), wants))
	eventually(t, func() bool { _, ok := m.ContainerPort("apps", "b", 80); return ok })
	writes := len(client.Actions())
	require.NoError(t, m.Sync(context.Background(), wants))
	for _, a := range client.Actions()[writes:] {
		assert.Contains(t, []string{"list", "watch", "get"}, a.GetVerb(), "nothing to write")
	}
}

func TestAddressesFromTheLoadBalancer(t *testing.T) {
	client := fake.NewClientset()
	m := start(t, client)
	gw := gateway("apps", "b")
	require.NoError(t, m.Sync(context.Background(), []Want{{Gateway: gw, Ports: []Port{{80, "HTTP"}}}}))
	eventually(t, func() bool { _, ok := m.ContainerPort("apps", "b", 80); return ok })
	addrs, unusable := m.Addresses(gw)
	assert.Empty(t, addrs, "no address before the load balancer assigns one")
	assert.Empty(t, unusable)

	svc, err := client.CoreV1().Services("weir-system").Get(context.Background(), ServiceName("apps", "b"), metav1.GetOptions{})
	require.NoError(t, err)
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.10"}, {Hostname: "lb.example.net"}}
	_, err = client.CoreV1().Services("weir-system").UpdateStatus(context.Background(), svc, metav1.UpdateOptions{})
	require.NoError(t, err)
	eventually(t, func() bool { a, _ := m.Addresses(gw); return len(a) == 2 })
	addrs, _ = m.Addresses(gw)
	assert.Equal(t, gatewayv1.IPAddressType, *addrs[0].Type)
	assert.Equal(t, "192.0.2.10", addrs[0].Value)
	assert.Equal(t, gatewayv1.HostnameAddressType, *addrs[1].Type)

	// spec.addresses: one IP is requested from the load balancer; an IP it
	// did not assign, or anything else, is unusable.
	ip := gatewayv1.IPAddressType
	gw.Spec.Addresses = []gatewayv1.GatewaySpecAddress{{Type: &ip, Value: "192.0.2.99"}}
	_, unusable = m.Addresses(gw)
	assert.Contains(t, unusable, "not the requested 192.0.2.99")
	gw.Spec.Addresses = []gatewayv1.GatewaySpecAddress{{Type: &ip, Value: "192.0.2.10"}}
	_, unusable = m.Addresses(gw)
	assert.Empty(t, unusable)
	named := gatewayv1.AddressType("example.com/pool")
	gw.Spec.Addresses = []gatewayv1.GatewaySpecAddress{{Type: &named, Value: "blue"}}
	_, unusable = m.Addresses(gw)
	assert.Contains(t, unusable, "only an IPAddress")
	// Two addresses: the load balancer takes one request only.
	gw.Spec.Addresses = []gatewayv1.GatewaySpecAddress{{Type: &ip, Value: "192.0.2.10"}, {Type: &ip, Value: "192.0.2.11"}}
	_, unusable = m.Addresses(gw)
	assert.Contains(t, unusable, "only one address")
	// An address without value asks for any address of its type: the one
	// assigned is fine (GatewayAddressEmpty).
	gw.Spec.Addresses = []gatewayv1.GatewaySpecAddress{{Type: &ip}}
	addrs, unusable = m.Addresses(gw)
	assert.Empty(t, unusable)
	assert.Len(t, addrs, 2)
}

func TestAnyAddressRequestsNoParticularIP(t *testing.T) {
	client := fake.NewClientset()
	m := start(t, client)
	gw := gateway("apps", "b")
	ip := gatewayv1.IPAddressType
	gw.Spec.Addresses = []gatewayv1.GatewaySpecAddress{{Type: &ip}}
	require.NoError(t, m.Sync(context.Background(), []Want{{Gateway: gw, Ports: []Port{{80, "HTTP"}}}}))
	assert.Empty(t, services(t, client)[0].Spec.LoadBalancerIP)
}

func TestRequestedIPGoesToTheService(t *testing.T) {
	client := fake.NewClientset()
	m := start(t, client)
	gw := gateway("apps", "b")
	gw.Spec.Addresses = []gatewayv1.GatewaySpecAddress{{Value: "192.0.2.7"}}
	require.NoError(t, m.Sync(context.Background(), []Want{{Gateway: gw, Ports: []Port{{80, "HTTP"}}}}))
	assert.Equal(t, "192.0.2.7", services(t, client)[0].Spec.LoadBalancerIP)
}

func TestServiceNames(t *testing.T) {
	assert.Equal(t, "weir-apps-web", ServiceName("apps", "web"))
	long := ServiceName("team-with-a-very-long-namespace-name", "gateway.with.dots-and-a-long-name-too")
	assert.LessOrEqual(t, len(long), 63)
	assert.True(t, strings.HasPrefix(long, "weir-team-"))
	assert.NotEqual(t, ServiceName("a", "b.c"), ServiceName("a", "b-c"), "names that clean up alike still differ")
}

func TestPortRangeExhausted(t *testing.T) {
	client := fake.NewClientset()
	m, err := New(client, Options{Namespace: "weir-system", PortMin: 30000, PortMax: 30000}, func() {}, nil)
	require.NoError(t, err)
	err = m.Sync(context.Background(), []Want{{Gateway: gateway("apps", "b"), Ports: []Port{{80, "HTTP"}, {81, "HTTP"}}}})
	assert.ErrorIs(t, err, errNoPorts)
}

// Annotations and labels someone else put on a Gateway's Service (a cloud
// load balancer's settings) survive Weir's updates.
func TestUpdatesKeepOthersAnnotations(t *testing.T) {
	client := fake.NewClientset()
	m := start(t, client)
	gw := gateway("apps", "b")
	require.NoError(t, m.Sync(context.Background(), []Want{{Gateway: gw, Ports: []Port{{80, "HTTP"}}}}))
	eventually(t, func() bool { _, ok := m.ContainerPort("apps", "b", 80); return ok })
	svc := services(t, client)[0]
	svc.Annotations["cloud.example.com/load-balancer-type"] = "internal"
	_, err := client.CoreV1().Services("weir-system").Update(context.Background(), &svc, metav1.UpdateOptions{})
	require.NoError(t, err)
	eventually(t, func() bool {
		s, err := m.lister.Services("weir-system").Get(svc.Name)
		return err == nil && s.Annotations["cloud.example.com/load-balancer-type"] != ""
	})
	require.NoError(t, m.Sync(context.Background(), []Want{{Gateway: gw, Ports: []Port{{80, "HTTP"}, {443, "HTTPS"}}}}))
	got := services(t, client)[0]
	assert.Len(t, got.Spec.Ports, 2)
	assert.Equal(t, "internal", got.Annotations["cloud.example.com/load-balancer-type"])
	assert.Equal(t, "apps/b", got.Annotations[AnnotationGateway])
}

// spec.infrastructure's labels and annotations go onto the Gateway's
// Service, and a change to them updates it; Weir's own keys stay Weir's.
func TestInfrastructureMetadataOnTheService(t *testing.T) {
	client := fake.NewClientset()
	m := start(t, client)
	gw := gateway("apps", "b")
	gw.Spec.Infrastructure = &gatewayv1.GatewayInfrastructure{
		Labels:      map[gatewayv1.LabelKey]gatewayv1.LabelValue{"team": "blue", LabelManagedBy: "someone-else"},
		Annotations: map[gatewayv1.AnnotationKey]gatewayv1.AnnotationValue{"lb.example.com/internal": "true"},
	}
	require.NoError(t, m.Sync(context.Background(), []Want{{Gateway: gw, Ports: []Port{{80, "HTTP"}}}}))
	svc := services(t, client)[0]
	assert.Equal(t, "blue", svc.Labels["team"])
	assert.Equal(t, ManagedBy, svc.Labels[LabelManagedBy])
	assert.Equal(t, "true", svc.Annotations["lb.example.com/internal"])

	eventually(t, func() bool { _, ok := m.ContainerPort("apps", "b", 80); return ok })
	gw.Spec.Infrastructure.Annotations["lb.example.com/internal"] = "false"
	require.NoError(t, m.Sync(context.Background(), []Want{{Gateway: gw, Ports: []Port{{80, "HTTP"}}}}))
	assert.Equal(t, "false", services(t, client)[0].Annotations["lb.example.com/internal"])

	// A key removed from spec.infrastructure leaves the Service; one
	// someone else put there stays.
	svc = services(t, client)[0]
	svc.Annotations["cloud.example.com/id"] = "lb-1"
	_, err := client.CoreV1().Services(svc.Namespace).Update(context.Background(), &svc, metav1.UpdateOptions{})
	require.NoError(t, err)
	eventually(t, func() bool {
		s, err := m.lister.Services(svc.Namespace).Get(svc.Name)
		return err == nil && s.Annotations["cloud.example.com/id"] == "lb-1"
	})
	gw.Spec.Infrastructure = nil
	require.NoError(t, m.Sync(context.Background(), []Want{{Gateway: gw, Ports: []Port{{80, "HTTP"}}}}))
	svc = services(t, client)[0]
	assert.NotContains(t, svc.Labels, "team")
	assert.NotContains(t, svc.Annotations, "lb.example.com/internal")
	assert.Equal(t, "lb-1", svc.Annotations["cloud.example.com/id"])
	assert.Equal(t, ManagedBy, svc.Labels[LabelManagedBy])
}
