package migrate

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOptions(t *testing.T) {
	in := load(t, "testdata/cluster-list.yaml")

	r := Analyze(in, Options{ConfigMap: "ingress-nginx/ingress-nginx-tcp"})
	require.Len(t, r.ConfigMaps, 1, "--configmap names the ConfigMap")
	assert.Equal(t, "ingress-nginx-tcp", r.ConfigMaps[0].Name)

	r = Analyze(in, Options{WeirClass: "edge"})
	assert.Equal(t, "edge", r.Change.ClassName)
	assert.Empty(t, r.Change.IngressClass, "Weir's controller already has an IngressClass")
	assert.Contains(t, r.Change.Moves[0].Commands[0], `"ingressClassName":"edge"`)

	r = Analyze(in, Options{Class: "internal"})
	assert.Empty(t, r.Ingresses)
	assert.Equal(t, 1, r.OtherClasses)
	assert.Equal(t, len(notHonoured(r.ConfigMaps[0].Findings)), r.Summary.NotHonoured, "only the ConfigMap is answered")

	r = Analyze(in, Options{ControllerClass: "example.com/other"})
	assert.Contains(t, r.Change.IngressClass, "controller: example.com/other", "no IngressClass of that controller yet: one is printed")
}

func notHonoured(fs []Finding) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Status == NotHonoured {
			out = append(out, f)
		}
	}
	return out
}
