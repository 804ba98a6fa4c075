package controller

import (
	"context"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"weir.dev/weir/controller/translate"
)

// An Ingress change alone takes the Ingress fast path and publishes what a
// full translation gives; anything else changing with it takes the full
// path.
func TestIngressOnlyChanges(t *testing.T) {
	ctx := context.Background()
	client, rec, c := start(t, Options{}, class(), service("web"), slice("web", "10.0.0.1"), service("next"), slice("next", "10.0.0.9"),
		ingress("web", "a.test", "web", nil), ingress("other", "b.test", "web", nil), ingress("third", "c.test", "web", nil))
	dumpHas(t, rec, "host c.test")
	fast := func() float64 {
		var m dto.Metric
		require.NoError(t, c.metrics.builds.WithLabelValues(pathIngresses).Write(&m))
		return m.GetCounter().GetValue()
	}
	before := fast()

	moved := ingress("web", "a.test", "next", nil)
	_, err := client.NetworkingV1().Ingresses("default").Update(ctx, moved, metav1.UpdateOptions{})
	require.NoError(t, err)
	dumpHas(t, rec, "main default/next:80")
	assert.Equal(t, before+1, fast(), "one Ingress changed: the fast path")
	in := &translate.Inputs{
		Ingresses:      []*networkingv1.Ingress{moved, ingress("other", "b.test", "web", nil), ingress("third", "c.test", "web", nil)},
		IngressClasses: []*networkingv1.IngressClass{class()},
		Services:       []*corev1.Service{service("web"), service("next")},
		EndpointSlices: []*discoveryv1.EndpointSlice{slice("web", "10.0.0.1"), slice("next", "10.0.0.9")},
	}
	last := rec.last()
	assert.Equal(t, translate.Translate(in, last.Table.Generation()).Table.Dump(), last.Table.Dump())

	require.NoError(t, client.NetworkingV1().Ingresses("default").Delete(ctx, "other", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool { return fast() == before+2 }, 10*time.Second, 5*time.Millisecond, "a deletion takes the fast path too")
	dumpHas(t, rec, "host c.test")
	assert.NotContains(t, rec.last().Table.Dump(), "host b.test")
}
