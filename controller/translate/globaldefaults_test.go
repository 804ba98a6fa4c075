package translate_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	networkingv1 "k8s.io/api/networking/v1"

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
		return res.Table.Routes()[0].Action.HSTS
	}
	assert.Equal(t, HSTS, hsts())
	in.Options.HSTS = "max-age=600; preload"
	assert.Equal(t, "max-age=600; preload", hsts())
	in.Options.DisableHSTS = true
	assert.Empty(t, hsts())
}
