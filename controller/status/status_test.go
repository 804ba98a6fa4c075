package status

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// source reads the Ingresses from the fake clientset, as the informer cache
// would show them; ours names Weir's.
type source struct {
	client *fake.Clientset
	ours   map[string]bool
}

func (s *source) Ingresses() []*networkingv1.Ingress {
	l, err := s.client.NetworkingV1().Ingresses("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return nil
	}
	out := make([]*networkingv1.Ingress, len(l.Items))
	for i := range l.Items {
		out[i] = &l.Items[i]
	}
	return out
}

func (s *source) IsWeirs(ing *networkingv1.Ingress) bool { return s.ours[ing.Name] }

func ing(name string, addrs ...networkingv1.IngressLoadBalancerIngress) *networkingv1.Ingress {
	i := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	i.Status.LoadBalancer.Ingress = addrs
	return i
}

func statusWrites(c *fake.Clientset) int {
	n := 0
	for _, a := range c.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" {
			n++
		}
	}
	return n
}

func addrsOf(t *testing.T, c *fake.Clientset, name string) []networkingv1.IngressLoadBalancerIngress {
	t.Helper()
	i, err := c.NetworkingV1().Ingresses("default").Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	return i.Status.LoadBalancer.Ingress
}

func TestSyncWritesChangesOnlyAndClearsWhatItWrote(t *testing.T) {
	ctx := context.Background()
	lb := networkingv1.IngressLoadBalancerIngress{IP: "192.0.2.1"}
	client := fake.NewClientset(ing("a"), ing("b", lb), ing("other", networkingv1.IngressLoadBalancerIngress{IP: "198.51.100.9"}))
	src := &source{client: client, ours: map[string]bool{"a": true, "b": true}}
	w := New(client, Options{PublishStatusAddress: "192.0.2.1"}, zap.NewNop())

	w.sync(ctx, src)
	assert.Equal(t, []networkingv1.IngressLoadBalancerIngress{lb}, addrsOf(t, client, "a"))
	assert.Equal(t, 1, statusWrites(client), "b already had the address; other is not ours")
	w.sync(ctx, src)
	assert.Equal(t, 1, statusWrites(client), "nothing changed, nothing written")

	// b stops being Weir's: the address Weir wrote is cleared; other's
	// status, written by someone else, stays.
	src.ours["b"] = false
	w.sync(ctx, src)
	assert.Empty(t, addrsOf(t, client, "b"))
	assert.Equal(t, []networkingv1.IngressLoadBalancerIngress{{IP: "198.51.100.9"}}, addrsOf(t, client, "other"))
	assert.Equal(t, 2, statusWrites(client))
}

func TestAddressesFromThePublishService(t *testing.T) {
	ctx := context.Background()
	svc := func(name string, mutate func(*corev1.Service)) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "weir"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10"}}
		mutate(s)
		return s
	}
	client := fake.NewClientset(
		svc("lb", func(s *corev1.Service) {
			s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{Hostname: "lb.example.com"}, {IP: "203.0.113.7"}}
		}),
		svc("ext", func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"203.0.113.8"} }),
		svc("plain", func(*corev1.Service) {}),
		svc("headless", func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone }),
	)
	cases := map[string][]networkingv1.IngressLoadBalancerIngress{
		"weir/lb":       {{IP: "203.0.113.7"}, {Hostname: "lb.example.com"}},
		"weir/ext":      {{IP: "203.0.113.8"}},
		"weir/plain":    {{IP: "10.96.0.10"}},
		"weir/headless": nil,
	}
	for ref, want := range cases {
		got, err := New(client, Options{PublishService: ref}, zap.NewNop()).addresses(ctx)
		require.NoError(t, err, ref)
		assert.Equal(t, want, got, ref)
	}
	_, err := New(client, Options{PublishService: "weir/missing"}, zap.NewNop()).addresses(ctx)
	assert.Error(t, err)
	got, err := New(client, Options{PublishStatusAddress: "lb.example.com, 192.0.2.5", PublishService: "weir/lb"}, zap.NewNop()).addresses(ctx)
	require.NoError(t, err)
	assert.Equal(t, []networkingv1.IngressLoadBalancerIngress{{IP: "192.0.2.5"}, {Hostname: "lb.example.com"}}, got, "the address flag wins")
}
