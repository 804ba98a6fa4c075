package controller

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"weir.dev/weir/controller/translate"
)

func headersConfigMap(name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Data: data}
}

// The ConfigMap of auth-proxy-set-headers is followed: created after its
// Ingress (503 until then), edited, and deleted (503 again).
func TestAuthProxySetHeadersConfigMapIsFollowed(t *testing.T) {
	ctx := context.Background()
	client, rec, c := start(t, Options{}, class(), service("web"), slice("web", "10.0.0.1"),
		headersConfigMap("unnamed", map[string]string{"X-Other": "x"}),
		ingress("web", "a.test", "web", map[string]string{"nginx.ingress.kubernetes.io/auth-url": "http://auth/check",
			"nginx.ingress.kubernetes.io/auth-proxy-set-headers": "auth-headers"}))
	require.Eventually(t, func() bool { return hasProblem(rec.last(), translate.ReasonHeadersConfigMapNotFound) }, 10*time.Second, 5*time.Millisecond)
	dumpHas(t, rec, `respond 503`)

	cms := client.CoreV1().ConfigMaps("default")
	_, err := cms.Create(ctx, headersConfigMap("auth-headers", map[string]string{"X-Tenant": "blue"}), metav1.CreateOptions{})
	require.NoError(t, err)
	dumpHas(t, rec, `set=X-Tenant:"blue"`)

	// Only named ConfigMaps keep data; the watch of the others holds metadata.
	cached, err := c.auth.factory.Core().V1().ConfigMaps().Lister().ConfigMaps("default").Get("unnamed")
	require.NoError(t, err)
	require.Nil(t, cached.Data)

	_, err = cms.Update(ctx, headersConfigMap("auth-headers", map[string]string{"X-Tenant": "green"}), metav1.UpdateOptions{})
	require.NoError(t, err)
	dumpHas(t, rec, `set=X-Tenant:"green"`)

	_, err = cms.Update(ctx, headersConfigMap("auth-headers", map[string]string{"X-Tenant": "a\nb"}), metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return hasProblem(rec.last(), translate.ReasonInvalidHeadersConfigMap) }, 10*time.Second, 5*time.Millisecond)
	dumpHas(t, rec, `respond 503`)

	require.NoError(t, cms.Delete(ctx, "auth-headers", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool { return hasProblem(rec.last(), translate.ReasonHeadersConfigMapNotFound) }, 10*time.Second, 5*time.Millisecond)
}

// The global ConfigMap's add-headers and proxy-set-headers name ConfigMaps
// that are followed too, and global-allowed-response-headers lets an
// Ingress's custom-headers through.
func TestGlobalHeaderConfigMapsAreFollowed(t *testing.T) {
	ctx := context.Background()
	global := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "weir", Namespace: "default"}, Data: map[string]string{
		"add-headers": "default/resp", "proxy-set-headers": "default/req", "global-allowed-response-headers": "X-Frame-Options"}}
	client, rec, _ := start(t, Options{ConfigMap: "default/weir"}, class(), service("web"), slice("web", "10.0.0.1"), global,
		headersConfigMap("resp", map[string]string{"X-Served-By": "weir"}),
		headersConfigMap("req", map[string]string{"X-Env": "prod"}),
		headersConfigMap("frame", map[string]string{"X-Frame-Options": "DENY"}),
		ingress("web", "a.test", "web", map[string]string{"nginx.ingress.kubernetes.io/custom-headers": "frame"}))
	dumpHas(t, rec, `request-header set X-Env="prod"`)
	dumpHas(t, rec, `response-header set X-Served-By="weir"`)
	dumpHas(t, rec, `response-header set X-Frame-Options="DENY"`)

	_, err := client.CoreV1().ConfigMaps("default").Update(ctx, headersConfigMap("req", map[string]string{"X-Env": "staging"}), metav1.UpdateOptions{})
	require.NoError(t, err)
	dumpHas(t, rec, `request-header set X-Env="staging"`)
}

// An Ingress edited to name a headers ConfigMap that already exists gets
// its headers: the edit takes the full path, which fetches the ConfigMap
// (the Ingress fast path would translate it without, and answer 503).
func TestIngressEditedToNameAHeadersConfigMap(t *testing.T) {
	ctx := context.Background()
	client, rec, _ := start(t, Options{}, class(), service("web"), slice("web", "10.0.0.1"),
		headersConfigMap("auth-headers", map[string]string{"X-Tenant": "blue"}),
		ingress("web", "a.test", "web", map[string]string{"nginx.ingress.kubernetes.io/auth-url": "http://auth/check"}))
	dumpHas(t, rec, "host a.test")
	edited := ingress("web", "a.test", "web", map[string]string{"nginx.ingress.kubernetes.io/auth-url": "http://auth/check",
		"nginx.ingress.kubernetes.io/auth-proxy-set-headers": "auth-headers"})
	_, err := client.NetworkingV1().Ingresses("default").Update(ctx, edited, metav1.UpdateOptions{})
	require.NoError(t, err)
	dumpHas(t, rec, `set=X-Tenant:"blue"`)
	require.False(t, hasProblem(rec.last(), translate.ReasonHeadersConfigMapNotFound))
}
