package translate_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	networkingv1 "k8s.io/api/networking/v1"

	"weir.dev/weir/controller/manifests"
	. "weir.dev/weir/controller/translate"
)

// TestIngressFastPathKeepsPassthroughCurrent: the Ingress fast path
// (RefreshIngresses) must give the passed-through hosts a full Translate
// gives: removing the ssl-passthrough annotation, or the Ingress, ends the
// host's passthrough; adding it starts it.
func TestIngressFastPathKeepsPassthroughCurrent(t *testing.T) {
	objs, err := manifests.Load("testdata/passthrough/hosts.in.yaml")
	require.NoError(t, err)
	in := manifests.Inputs(objs, Options{SSLPassthrough: true})
	prev := Translate(in, 1)
	require.NotEmpty(t, prev.Passthrough)
	var vault *networkingv1.Ingress
	for _, ing := range in.Ingresses {
		if ing.Namespace == "default" && ing.Name == "vault" {
			vault = ing
		}
	}
	require.NotNil(t, vault)

	t.Run("annotation removed", func(t *testing.T) {
		edited := vault.DeepCopy()
		delete(edited.Annotations, "nginx.ingress.kubernetes.io/ssl-passthrough")
		res, ok := RefreshIngresses(Translate(in, 1), map[string]*networkingv1.Ingress{"default/vault": edited}, 2)
		if !ok {
			t.Skip("the fast path declined")
		}
		full := *in
		full.Ingresses = replaceIng(in.Ingresses, vault, edited)
		assert.Equal(t, dumpPassthrough(Translate(&full, 2)), dumpPassthrough(res))
	})
	t.Run("ingress deleted", func(t *testing.T) {
		res, ok := RefreshIngresses(Translate(in, 1), map[string]*networkingv1.Ingress{"default/vault": nil}, 2)
		if !ok {
			t.Skip("the fast path declined")
		}
		full := *in
		full.Ingresses = replaceIng(in.Ingresses, vault, nil)
		assert.Equal(t, dumpPassthrough(Translate(&full, 2)), dumpPassthrough(res))
	})
}

func replaceIng(list []*networkingv1.Ingress, old, with *networkingv1.Ingress) []*networkingv1.Ingress {
	var out []*networkingv1.Ingress
	for _, ing := range list {
		if ing == old {
			if with != nil {
				out = append(out, with)
			}
			continue
		}
		out = append(out, ing)
	}
	return out
}
