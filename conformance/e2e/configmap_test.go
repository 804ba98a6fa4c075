package e2e

import (
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"weir.dev/weir/conformance/weirdeploy"
)

// globalConfigMap is the ConfigMap every Weir replica is started with
// (--configmap, setup_test.go); it does not exist until TestGlobalConfigMap
// makes it.
const globalConfigMap = "weir-global"

// TestGlobalConfigMap changes the global ConfigMap while Weir runs: its
// keys reach every replica without a restart, an invalid value is an Event
// on the ConfigMap and keeps the last valid one, and deleting it returns to
// the defaults. deploy/base's ClusterRole already lets Weir read ConfigMaps
// (the header ConfigMaps of Ingresses live in their namespaces), so no
// grant is needed.
func TestGlobalConfigMap(t *testing.T) {
	ctx := ctxFor(t, 4*time.Minute)
	ns := namespace(t, ctx)
	echoApp(t, ctx, ns, "web", 1)
	waitEndpoints(t, ctx, ns, "web", 1)
	host := ns + ".example.test"
	createIngress(t, ctx, ingress(ns, "web", host, "web", nil))
	c := client()
	waitServed(t, c, host, nil, "web")

	cms := env.cluster.Client.CoreV1().ConfigMaps(weirdeploy.Namespace)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: globalConfigMap, Namespace: weirdeploy.Namespace},
		Data: map[string]string{"use-forwarded-headers": "true", "block-cidrs": "203.0.113.66"}}
	if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the ConfigMap: %v", err)
	}
	t.Cleanup(func() { _ = cms.Delete(ctxFor(t, 30*time.Second), globalConfigMap, metav1.DeleteOptions{}) })

	from := func(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }
	// Until the Role exists, Weir's watch of the ConfigMap was refused and
	// client-go retries it with a backoff of up to about 30 s: the first
	// change may take that long to arrive.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		e, err := get(c, host, "/", from("203.0.113.66"))
		if err == nil && e.Status == http.StatusForbidden {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ConfigMap's block-cidrs did not apply within 2 minutes; last status %d, err %v", e.Status, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	waitEvery(t, host, "the client named by X-Forwarded-For", func(base string) (echo, bool, error) {
		e, err := getFrom(c, base, host, "/", from("198.51.100.7"))
		xff := e.Headers["X-Forwarded-For"]
		return e, err == nil && e.Status == 200 && len(xff) == 1 && xff[0] == "198.51.100.7", err
	})
	waitEvery(t, host, "403 for a blocked client", func(base string) (echo, bool, error) {
		e, err := getFrom(c, base, host, "/", from("203.0.113.66"))
		return e, err == nil && e.Status == http.StatusForbidden, err
	})

	cm.Data = map[string]string{"use-forwarded-headers": "true", "block-cidrs": "not-an-address"}
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("updating the ConfigMap: %v", err)
	}
	waitEventOn(t, "ConfigMap", weirdeploy.Namespace, globalConfigMap, "InvalidConfigMapValue")
	for _, base := range everyWeir() {
		if e, err := getFrom(c, base, host, "/", from("203.0.113.66")); err != nil || e.Status != http.StatusForbidden {
			t.Fatalf("via %s: the last valid block-cidrs should stay; got status %d, err %v", base, e.Status, err)
		}
	}

	if err := cms.Delete(ctx, globalConfigMap, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting the ConfigMap: %v", err)
	}
	waitEvery(t, host, "X-Forwarded-For replaced again (the defaults)", func(base string) (echo, bool, error) {
		e, err := getFrom(c, base, host, "/", from("203.0.113.66"))
		xff := e.Headers["X-Forwarded-For"]
		return e, err == nil && e.Status == 200 && len(xff) == 1 && xff[0] != "203.0.113.66", err
	})
}
