package translate_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	networkingv1 "k8s.io/api/networking/v1"

	"weir.dev/weir/controller/manifests"
	. "weir.dev/weir/controller/translate"
)

// TestIngressFastPathKeepsPassthroughCurrent: after an Ingress change, the
// controller publishes the fast path's result (RefreshIngresses) or, when
// it declines, a full Translate; either way the passed-through hosts must
// be a full Translate's: removing the ssl-passthrough annotation, or the
// Ingress, ends the host's passthrough; adding it starts it. (The fast
// path once copied the previous result's hosts, so a removed passthrough
// stayed spliced until some full translation.)
func TestIngressFastPathKeepsPassthroughCurrent(t *testing.T) {
	objs, err := manifests.Load("testdata/passthrough/hosts.in.yaml")
	require.NoError(t, err)
	in := manifests.Inputs(objs, Options{SSLPassthrough: true})
	require.NotEmpty(t, Translate(in, 1).Passthrough)
	vault := findIng(in.Ingresses, "default", "vault")
	require.NotNil(t, vault)
	plain := vault.DeepCopy()
	delete(plain.Annotations, "nginx.ingress.kubernetes.io/ssl-passthrough")

	// published is what the controller serves after vault becomes with
	// (nil: deleted) in before.
	published := func(before *Inputs, with *networkingv1.Ingress) (got, want string) {
		after := *before
		after.Ingresses = replaceIng(before.Ingresses, findIng(before.Ingresses, "default", "vault"), with)
		res, ok := RefreshIngresses(Translate(before, 1), map[string]*networkingv1.Ingress{"default/vault": with}, 2)
		if !ok {
			res = Translate(&after, 2)
		}
		return dumpPassthrough(res), dumpPassthrough(Translate(&after, 2))
	}
	t.Run("annotation removed", func(t *testing.T) {
		got, want := published(in, plain)
		assert.Equal(t, want, got)
	})
	t.Run("ingress deleted", func(t *testing.T) {
		got, want := published(in, nil)
		assert.Equal(t, want, got)
	})
	t.Run("annotation added", func(t *testing.T) {
		without := *in
		without.Ingresses = replaceIng(in.Ingresses, vault, plain)
		got, want := published(&without, vault)
		assert.Equal(t, want, got)
		assert.Contains(t, got, "vault.example.com")
	})
}

// findIng is the Ingress namespace/name of list.
func findIng(list []*networkingv1.Ingress, namespace, name string) *networkingv1.Ingress {
	for _, ing := range list {
		if ing.Namespace == namespace && ing.Name == name {
			return ing
		}
	}
	return nil
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
