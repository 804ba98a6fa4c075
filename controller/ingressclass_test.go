package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	"weir.dev/weir/controller/translate"
)

// TestOtherClassIngressesCauseNoRebuild: the Ingress handler notes a
// change of an Ingress of another controller's class for no rebuild, but
// one of Weir's, one moving into or out of Weir's class, and one without a
// class while Weir's IngressClass is the default (and not once it is not).
func TestOtherClassIngressesCauseNoRebuild(t *testing.T) {
	c, err := New(fake.NewClientset(), Options{}, &recorder{}, nil, nil)
	require.NoError(t, err)
	classes := c.factory.Networking().V1().IngressClasses().Informer().GetIndexer()
	weir := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "weir"},
		Spec: networkingv1.IngressClassSpec{Controller: translate.DefaultControllerClass}}
	other := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nginx"},
		Spec: networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx"}}
	require.NoError(t, classes.Add(weir))
	require.NoError(t, classes.Add(other))
	h := c.ingressHandler()

	ing := func(rv string, class *string, ann map[string]string) *networkingv1.Ingress {
		return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app", ResourceVersion: rv, Annotations: ann},
			Spec: networkingv1.IngressSpec{IngressClassName: class}}
	}
	noted := func() bool {
		ch := c.takeChanges()
		return ch.full || len(ch.ings) > 0
	}
	nginx, weirs := ptrTo("nginx"), ptrTo("weir")
	noted() // the first build is a full one

	h.OnAdd(ing("1", nginx, nil), false)
	assert.False(t, noted(), "an Ingress of another class is added")
	h.OnUpdate(ing("1", nginx, nil), ing("2", nginx, map[string]string{"a": "b"}))
	assert.False(t, noted(), "an Ingress of another class changes")
	h.OnDelete(cache.DeletedFinalStateUnknown{Key: "ns/app", Obj: ing("2", nginx, nil)})
	assert.False(t, noted(), "an Ingress of another class is deleted")
	h.OnUpdate(ing("1", nil, map[string]string{"kubernetes.io/ingress.class": "nginx"}),
		ing("2", nil, map[string]string{"kubernetes.io/ingress.class": "nginx", "a": "b"}))
	assert.False(t, noted(), "another class by the legacy annotation")
	h.OnAdd(ing("1", nil, nil), false)
	assert.False(t, noted(), "no class, and Weir's class is not the default")

	h.OnAdd(ing("1", weirs, nil), false)
	assert.True(t, noted(), "Weir's Ingress is added")
	h.OnUpdate(ing("1", nginx, nil), ing("2", weirs, nil))
	assert.True(t, noted(), "an Ingress moves into Weir's class")
	h.OnUpdate(ing("1", weirs, nil), ing("2", nginx, nil))
	assert.True(t, noted(), "an Ingress moves out of Weir's class")
	h.OnDelete(cache.DeletedFinalStateUnknown{Key: "ns/app", Obj: ing("2", weirs, nil)})
	assert.True(t, noted(), "Weir's Ingress is deleted")
	h.OnUpdate(ing("1", nil, map[string]string{"kubernetes.io/ingress.class": "nginx"}), ing("2", nil, nil))
	assert.False(t, noted(), "the legacy annotation removed: no class, and Weir's is not the default")

	def := weir.DeepCopy()
	def.Annotations = map[string]string{"ingressclass.kubernetes.io/is-default-class": "true"}
	require.NoError(t, classes.Update(def))
	h.OnAdd(ing("1", nil, nil), false)
	assert.True(t, noted(), "no class, and Weir's class is the default")
	h.OnUpdate(ing("1", nil, map[string]string{"kubernetes.io/ingress.class": "nginx"}), ing("2", nil, nil))
	assert.True(t, noted(), "the legacy annotation removed: now the default class's, Weir's")
}
