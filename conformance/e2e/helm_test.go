package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"weir.dev/weir/conformance/weirdeploy"
)

// The release the chart's golden rendering installs
// (deploy/helm/test/testdata/e2e-values.yaml): its own namespace,
// IngressClass and controller value, next to deploy/base's Weir.
const (
	helmRelease = "weir-helm"
	helmClass   = "weir-helm"
)

// TestHelmChart installs Weir from the Helm chart's rendered output
// (deploy/helm/test keeps testdata/weir-helm.golden.yaml equal to what the
// chart renders) with the chart's own RBAC, Ingress-only, and checks that it
// serves an Ingress of its class through its Service and on each replica,
// applies controller.config (its ConfigMap), publishes its Service's address
// to the Ingress's status, and gives a broken Ingress its Warning Event;
// deploy/base's Weir leaves that class alone.
func TestHelmChart(t *testing.T) {
	ctx := ctxFor(t, 5*time.Minute)
	pods, addr := installChart(t, ctx)
	ns := namespace(t, ctx)
	echoApp(t, ctx, ns, "web", 1)
	host := "chart." + ns + ".test"
	ing := ingress(ns, "via-chart", host, "web", nil)
	class := helmClass
	ing.Spec.IngressClassName = &class
	createIngress(t, ctx, ing)
	bad := ingress(ns, "missing", "missing."+ns+".test", "nope", nil)
	bad.Spec.IngressClassName = &class
	createIngress(t, ctx, bad)

	c := client()
	bases := []string{"http://" + addr}
	for i := range pods {
		bases = append(bases, weirdeploy.HTTPURL(&pods[i]))
	}
	for _, base := range bases {
		waitFrom(t, base, "served by web", func() (echo, bool, error) {
			e, err := getFrom(c, base, host, "/", nil)
			return e, err == nil && e.Status == http.StatusOK && app(e.Pod) == "web", err
		})
	}
	// controller.config reached the chart's Weir (its ConfigMap, through the
	// chart's Role).
	waitFrom(t, "http://"+addr, "refused by block-user-agents", func() (echo, bool, error) {
		e, err := getFrom(c, "http://"+addr, host, "/", http.Header{"User-Agent": {"blocked-by-the-chart"}})
		return e, err == nil && e.Status == http.StatusForbidden, err
	})
	e, err := get(c, host, "/", nil)
	if err != nil || e.Status != http.StatusNotFound {
		t.Errorf("deploy/base's Weir answered %s with %d (%v), want 404: the class is the chart's", host, e.Status, err)
	}
	waitIngressAddress(t, ctx, ns, "via-chart", addr)
	waitEvent(t, ns, "missing", "ServiceNotFound")
}

// installChart applies the chart's golden rendering into its own namespace
// and waits for its replicas and its Service's address. The release goes
// when the test ends.
func installChart(t *testing.T, ctx context.Context) ([]corev1.Pod, string) {
	t.Helper()
	root, err := weirdeploy.RepoRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := os.ReadFile(filepath.Join(root, "deploy", "helm", "test", "testdata", "weir-helm.golden.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	k := env.cluster.Client
	nsObj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: helmRelease}}
	if _, err := k.CoreV1().Namespaces().Create(ctx, nsObj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", helmRelease, err)
	}
	t.Cleanup(func() { uninstallChart(t) })
	if err := env.cluster.ApplyYAML(ctx, rendered, helmRelease); err != nil {
		t.Fatalf("applying the chart's rendering: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	pods, err := env.cluster.WaitPodsReady(wctx, helmRelease, "app.kubernetes.io/instance="+helmRelease, 2)
	if err != nil {
		t.Fatalf("the chart's Weir Pods: %v", err)
	}
	t.Cleanup(func() { keepPodLogs(t, pods) })
	addr, err := weirdeploy.WaitServiceAddress(ctx, env.cluster, helmRelease, helmRelease)
	if err != nil {
		t.Fatal(err)
	}
	return pods, addr
}

// uninstallChart deletes what the chart made, its namespace and its
// cluster-wide objects, and waits for the namespace to be gone (so that a
// next run, -count=N, can make it again).
func uninstallChart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	k := env.cluster.Client
	for what, err := range map[string]error{
		"namespace":          k.CoreV1().Namespaces().Delete(ctx, helmRelease, metav1.DeleteOptions{}),
		"ClusterRole":        k.RbacV1().ClusterRoles().Delete(ctx, helmRelease, metav1.DeleteOptions{}),
		"ClusterRoleBinding": k.RbacV1().ClusterRoleBindings().Delete(ctx, helmRelease, metav1.DeleteOptions{}),
		"IngressClass":       k.NetworkingV1().IngressClasses().Delete(ctx, helmClass, metav1.DeleteOptions{}),
	} {
		if err != nil {
			t.Logf("uninstalling the chart: deleting the %s: %v", what, err)
		}
	}
	for {
		_, err := k.CoreV1().Namespaces().Get(ctx, helmRelease, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return
		}
		select {
		case <-ctx.Done():
			t.Errorf("namespace %s still there 90 s after its deletion (last error %v)", helmRelease, err)
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// waitFrom polls try until it holds, 60 s in all.
func waitFrom(t *testing.T, base, what string, try func() (echo, bool, error)) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		last, ok, err := try()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("via %s: not %s within 60s; last answer: status %d pod %q err %v", base, what, last.Status, last.Pod, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitIngressAddress waits until the Ingress's status holds addr.
func waitIngressAddress(t *testing.T, ctx context.Context, ns, name, addr string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ing, err := env.cluster.Client.NetworkingV1().Ingresses(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && len(ing.Status.LoadBalancer.Ingress) == 1 && ing.Status.LoadBalancer.Ingress[0].IP == addr {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ingress %s/%s: status not %s within 60s (%v, %+v)", ns, name, addr, err, ing)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// keepPodLogs logs the tail of each Pod's Weir log when the test failed.
func keepPodLogs(t *testing.T, pods []corev1.Pod) {
	if !t.Failed() {
		return
	}
	for i := range pods {
		b, err := os.ReadFile(env.cluster.PodLogPath(&pods[i], "weir"))
		if len(b) > 8<<10 {
			b = b[len(b)-8<<10:]
		}
		t.Logf("log of the chart's Weir Pod %s (%v):\n%s", pods[i].Name, err, b)
	}
}
