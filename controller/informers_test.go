package controller

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"weir.dev/weir/annotations"
)

func TestStripForCacheDropsManagedFieldsAndNonTLSData(t *testing.T) {
	mf := []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	opaque := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", ManagedFields: mf},
		Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"password": []byte("hunter2")}}
	tlsSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "cert"},
		Type: corev1.SecretTypeTLS, Data: map[string][]byte{corev1.TLSCertKey: []byte("c"), corev1.TLSPrivateKeyKey: []byte("k")}}
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "i", ManagedFields: mf}}

	for _, obj := range []any{opaque, tlsSecret, ing} {
		_, err := stripForCache(obj)
		require.NoError(t, err)
	}
	assert.Nil(t, opaque.Data, "a Secret Weir cannot use keeps no data in the cache")
	assert.Nil(t, opaque.ManagedFields)
	assert.Len(t, tlsSecret.Data, 2)
	assert.Nil(t, ing.ManagedFields)
}

func TestChangedDropsNoOpUpdates(t *testing.T) {
	a := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "i", ResourceVersion: "1"}}
	same := a.DeepCopy()
	assert.False(t, changed(a, same), "a resync with the same resourceVersion")

	status := a.DeepCopy()
	status.ResourceVersion = "2"
	status.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "192.0.2.1"}}
	assert.False(t, changed(a, status), "an Ingress status write (Weir's own) changes no route")

	spec := a.DeepCopy()
	spec.ResourceVersion = "3"
	spec.Spec.IngressClassName = ptrTo("weir")
	assert.True(t, changed(a, spec))

	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s", ResourceVersion: "1"}}
	svc2 := svc.DeepCopy()
	svc2.ResourceVersion = "2"
	assert.True(t, changed(svc, svc2))
}

func ptrTo(s string) *string { return &s }

func TestWatchNamespaceLimitsTheIngresses(t *testing.T) {
	ctx := context.Background()
	inside := ingress("inside", "in.test", "web", nil)
	outside := ingress("outside", "out.test", "web", nil)
	outside.Namespace = "elsewhere"
	client, rec, _ := start(t, Options{WatchNamespace: "default"}, class(), service("web"), slice("web", "10.0.0.1"), inside, outside)
	dumpHas(t, rec, "host in.test")
	assert.NotContains(t, rec.last().Table.Dump(), "out.test")

	late := ingress("late", "late.test", "web", nil)
	late.Namespace = "elsewhere"
	_, err := client.NetworkingV1().Ingresses("elsewhere").Create(ctx, late, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = client.NetworkingV1().Ingresses("default").Create(ctx, ingress("later", "later.test", "web", nil), metav1.CreateOptions{})
	require.NoError(t, err)
	dumpHas(t, rec, "host later.test")
	time.Sleep(50 * time.Millisecond)
	assert.NotContains(t, rec.last().Table.Dump(), "late.test\n")
}

func TestAnnotationsPrefix(t *testing.T) {
	ing := ingress("web", "a.test", "web", map[string]string{"example.com/proxy-body-size": "8m",
		annotations.Prefix + "proxy-body-size": "2m", "other/x": "y"})
	_, err := ingressTransform("example.com")(ing)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{annotations.Prefix + "proxy-body-size": "8m", "other/x": "y"}, ing.Annotations,
		"the custom prefix is read, the default one ignored, as ingress-nginx does")

	ing = ingress("web", "a.test", "web", map[string]string{annotations.Prefix + "proxy-body-size": "2m"})
	_, err = ingressTransform("nginx.ingress.kubernetes.io")(ing)
	require.NoError(t, err)
	assert.Equal(t, "2m", ing.Annotations[annotations.Prefix+"proxy-body-size"])
}

func TestWatchNamespaceSelector(t *testing.T) {
	ctx := context.Background()
	team := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default", Labels: map[string]string{"team": "a"}}}
	other := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere"}}
	outside := ingress("outside", "out.test", "web", nil)
	outside.Namespace = "elsewhere"
	sel, err := labels.Parse("team=a")
	require.NoError(t, err)
	client, rec, _ := start(t, Options{NamespaceSelector: sel}, team, other, class(), service("web"), slice("web", "10.0.0.1"),
		ingress("inside", "in.test", "web", nil), outside)
	dumpHas(t, rec, "host in.test")
	assert.NotContains(t, rec.last().Table.Dump(), "out.test")

	other.Labels = map[string]string{"team": "a"}
	_, err = client.CoreV1().Namespaces().Update(ctx, other, metav1.UpdateOptions{})
	require.NoError(t, err)
	dumpHas(t, rec, "host out.test")
}
