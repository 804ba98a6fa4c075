package translate_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"weir.dev/weir/annotations"
	. "weir.dev/weir/controller/translate"
)

// bodyLimits maps each Ingress's name to its routes' body limit.
func bodyLimits(t *testing.T, in *Inputs) map[string]int64 {
	res := Translate(in, 1)
	require.NotNil(t, res.Table)
	out := map[string]int64{}
	for _, r := range res.Table.Routes() {
		out[r.Source.Name] = r.Action.MaxBodyBytes
	}
	return out
}

// The ConfigMap's per-route keys are the defaults; an Ingress's annotation
// still wins.
func TestAnnotationDefaults(t *testing.T) {
	in := sampleInputs(2, 1)
	in.Ingresses[2].Annotations = map[string]string{annotations.Prefix + "proxy-body-size": "2m"}
	assert.Equal(t, map[string]int64{"svc-0": 1 << 20, "svc-1": 2 << 20}, bodyLimits(t, in), "Weir's default, 1m")

	in.Options.AnnotationDefaults = map[string]string{"proxy-body-size": "8m"}
	assert.Equal(t, map[string]int64{"svc-0": 8 << 20, "svc-1": 2 << 20}, bodyLimits(t, in))
	assert.Empty(t, Translate(in, 1).Problems, "a default is not the Ingress's problem")
}

func TestHSTSOptions(t *testing.T) {
	in := sampleInputs(1, 1)
	in.Ingresses[0].Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"h0.example.com"}}}
	hsts := func() string {
		res := Translate(in, 1)
		require.NotNil(t, res.Table)
		return res.Table.Route(0).Action.HSTS
	}
	assert.Equal(t, HSTS, hsts())
	in.Options.HSTS = "max-age=600; preload"
	assert.Equal(t, "max-age=600; preload", hsts())
	in.Options.DisableHSTS = true
	assert.Empty(t, hsts())
}

func TestClassFlags(t *testing.T) {
	ing := sampleIngress("ns", "a", "a.test", "svc", nil, time.Time{})
	ing.Spec.IngressClassName = nil
	assert.False(t, IsWeirs(ing, nil, Options{}), "no class, no default IngressClass")
	assert.True(t, IsWeirs(ing, nil, Options{WatchWithoutClass: true}), "--watch-ingress-without-class")
	ing.Annotations = map[string]string{"kubernetes.io/ingress.class": "nginx"}
	assert.False(t, IsWeirs(ing, nil, Options{WatchWithoutClass: true}), "another controller's legacy class stays theirs")

	ing = sampleIngress("ns", "a", "a.test", "svc", nil, time.Time{})
	name := "nginx"
	ing.Spec.IngressClassName = &name
	classes := []*networkingv1.IngressClass{{ObjectMeta: metav1.ObjectMeta{Name: "nginx"}, Spec: networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx"}}}
	assert.False(t, IsWeirs(ing, classes, Options{IngressClass: "nginx"}))
	assert.True(t, IsWeirs(ing, classes, Options{IngressClass: "nginx", ClassByName: true}), "--ingress-class-by-name")
}

func TestDisableExternalName(t *testing.T) {
	in := sampleInputs(1, 1)
	in.Services[0].Spec.Type = corev1.ServiceTypeExternalName
	in.Services[0].Spec.ExternalName = "db.example.com"
	res := Translate(in, 1)
	assert.Contains(t, res.Table.Dump(), "db.example.com:80")
	in.Options.DisableExternalName = true
	res = Translate(in, 1)
	assert.NotContains(t, res.Table.Dump(), "db.example.com")
	var reasons []string
	for _, p := range res.Problems {
		reasons = append(reasons, p.Reason)
	}
	assert.Contains(t, reasons, ReasonExternalName)
}

// TestDisableExternalNameCoversFQDNSlices: an EndpointSlice of address type
// FQDN, which a tenant can write for a selector-less Service of their own,
// holds names dialled as written, exactly what --disable-svc-external-name
// refuses for ExternalName Services ("in a shared cluster they let a tenant
// send traffic anywhere"); its names also escape the API server's check
// that refuses loopback and link-local endpoint IPs.
func TestDisableExternalNameCoversFQDNSlices(t *testing.T) {
	in := sampleInputs(1, 1)
	in.EndpointSlices[0].AddressType = discoveryv1.AddressTypeFQDN
	in.EndpointSlices[0].Endpoints[0].Addresses = []string{"kubernetes.default.svc.cluster.local"}
	in.Options.DisableExternalName = true
	res := Translate(in, 1)
	require.NotNil(t, res.Table)
	assert.NotContains(t, res.Table.Dump(), "kubernetes.default.svc", "a name from an FQDN EndpointSlice is dialled despite --disable-svc-external-name")
}
