package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"weir.dev/weir/conformance/weirdeploy"
)

// TestHeaderConfigMaps: the ConfigMaps of headers, real ones in the
// cluster. auth-proxy-set-headers reaches the auth service (an echo-basic
// Pod, told by the ConfigMap's X-Echo-Set-Header to answer with a header
// that auth-response-headers copies to the backend); the global
// ConfigMap's proxy-set-headers reaches the backend; custom-headers,
// allowed by global-allowed-response-headers, reaches the client. An edit
// of a ConfigMap applies without touching the Ingress, and deleting the
// auth one closes the paths (503, with an Event).
func TestHeaderConfigMaps(t *testing.T) {
	ctx := ctxFor(t, 4*time.Minute)
	ns := namespace(t, ctx)
	c := client()
	echoApp(t, ctx, ns, "web", 1)
	echoApp(t, ctx, ns, "auth", 1)
	authIP := podIP(t, ctx, ns, "auth")

	cms := env.cluster.Client.CoreV1().ConfigMaps(ns)
	create := func(cm *corev1.ConfigMap) {
		t.Helper()
		if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	authHeaders := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "auth-headers", Namespace: ns},
		Data: map[string]string{"X-Echo-Set-Header": "X-Auth-Saw: blue"}}
	create(authHeaders)
	create(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "upstream-headers", Namespace: ns}, Data: map[string]string{"X-Env": "e2e"}})
	create(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "client-headers", Namespace: ns}, Data: map[string]string{"X-Team": "weir"}})

	global := env.cluster.Client.CoreV1().ConfigMaps(weirdeploy.Namespace)
	if _, err := global.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: globalConfigMap, Namespace: weirdeploy.Namespace},
		Data: map[string]string{"proxy-set-headers": ns + "/upstream-headers", "global-allowed-response-headers": "X-Team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the global ConfigMap: %v", err)
	}
	t.Cleanup(func() { _ = global.Delete(ctxFor(t, 30*time.Second), globalConfigMap, metav1.DeleteOptions{}) })

	host := "headers." + ns + ".test"
	createIngress(t, ctx, ingress(ns, "web", host, "web", map[string]string{
		canaryPrefix + "auth-url":               "http://" + authIP + ":3000/check",
		canaryPrefix + "auth-response-headers":  "X-Auth-Saw",
		canaryPrefix + "auth-proxy-set-headers": "auth-headers",
		canaryPrefix + "custom-headers":         "client-headers",
	}))

	sawAuth := func(want string) {
		t.Helper()
		waitEvery(t, host, "the auth service got X-Echo-Set-Header and the backend X-Env", func(base string) (echo, bool, error) {
			e, err := getFrom(c, base, host, "/", nil)
			ok := err == nil && e.Status == 200 && first(e.Headers["X-Auth-Saw"]) == want && first(e.Headers["X-Env"]) == "e2e"
			return e, ok, err
		})
	}
	sawAuth("blue")
	resp := send(t, c, host, nil)
	if got := resp.Header.Get("X-Team"); got != "weir" {
		t.Errorf("custom-headers: the client got X-Team %q, want weir", got)
	}

	authHeaders.Data["X-Echo-Set-Header"] = "X-Auth-Saw: green"
	if _, err := cms.Update(ctx, authHeaders, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	sawAuth("green")

	if err := cms.Delete(ctx, "auth-headers", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, host, http.StatusServiceUnavailable)
	waitEvent(t, ns, "web", "HeadersConfigMapNotFound")
}

// podIP is the address of the one ready endpoint of Service svc (the local
// cluster has no DNS for Weir to resolve a Service name with).
func podIP(t *testing.T, ctx context.Context, ns, svc string) string {
	t.Helper()
	slices, err := env.cluster.Client.DiscoveryV1().EndpointSlices(ns).List(ctx,
		metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			if len(e.Addresses) > 0 {
				return e.Addresses[0]
			}
		}
	}
	t.Fatalf("Service %s/%s has no endpoint", ns, svc)
	return ""
}
