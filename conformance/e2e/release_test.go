package e2e

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/yaml"

	"weir.dev/weir/conformance/localcluster"
	"weir.dev/weir/conformance/weirdeploy"
)

// The release patterns of docs/walkthroughs/, run from the walkthroughs' own
// manifests and patches so that the documents cannot drift: each test
// applies the file the walkthrough applies, makes the change the walkthrough
// makes, and checks what the walkthrough says the user sees, under steady
// load and with no failed request.

const walkthroughs = "../../docs/walkthroughs"

// echoImage is the image every walkthrough runs.
const echoImage = "gcr.io/k8s-staging-gateway-api/echo-basic:v20240412-v1.0.0-394-g40c666fd"

// walkthroughFile reads one walkthrough file with its example host replaced
// by the test's own (namespaces of earlier tests may still be going away).
func walkthroughFile(t *testing.T, name, exampleHost, host string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(walkthroughs, name))
	if err != nil {
		t.Fatal(err)
	}
	if exampleHost == "" {
		return b
	}
	return bytes.ReplaceAll(b, []byte(exampleHost), []byte(host))
}

// applyWalkthrough makes the test's namespace and applies a walkthrough's
// manifest there, its example host "<label>.example.test" replaced by
// "<label>.<namespace>.test"; it returns the namespace and that host. With
// graceful, the echo Pods run gracefulImage, which keeps serving 2 s after
// SIGTERM: what the manifest's preStop sleep does on a real kubelet (the
// process kubelet runs no hooks).
func applyWalkthrough(t *testing.T, ctx context.Context, name, exampleHost string, graceful bool) (ns, host string) {
	t.Helper()
	ns = namespace(t, ctx)
	label, _, _ := strings.Cut(exampleHost, ".")
	host = label + "." + ns + ".test"
	b := walkthroughFile(t, name, exampleHost, host)
	if graceful {
		b = bytes.ReplaceAll(b, []byte(echoImage), []byte(gracefulImage))
	}
	if err := env.cluster.ApplyYAML(ctx, b, ns); err != nil {
		t.Fatalf("applying %s: %v", name, err)
	}
	return ns, host
}

// patchWalkthrough applies a walkthrough's patch file as `kubectl patch
// <kind> <name> --patch-file` does (a strategic merge patch).
func patchWalkthrough(t *testing.T, ctx context.Context, ns, kind, name, file string) {
	t.Helper()
	b, err := yaml.ToJSON(walkthroughFile(t, file, "", ""))
	if err != nil {
		t.Fatalf("reading %s: %v", file, err)
	}
	c, opts := env.cluster.Client, metav1.PatchOptions{}
	switch kind {
	case "deployment":
		_, err = c.AppsV1().Deployments(ns).Patch(ctx, name, types.StrategicMergePatchType, b, opts)
	case "service":
		_, err = c.CoreV1().Services(ns).Patch(ctx, name, types.StrategicMergePatchType, b, opts)
	case "ingress":
		_, err = c.NetworkingV1().Ingresses(ns).Patch(ctx, name, types.StrategicMergePatchType, b, opts)
	default:
		t.Fatalf("no patch for kind %s", kind)
	}
	if err != nil {
		t.Fatalf("kubectl patch %s %s --patch-file %s: %v", kind, name, file, err)
	}
}

// setPaused is `kubectl rollout pause` (true) or `resume` (false).
func setPaused(t *testing.T, ctx context.Context, ns, name string, paused bool) {
	t.Helper()
	p := []byte(`{"spec":{"paused":false}}`)
	if paused {
		p = []byte(`{"spec":{"paused":true}}`)
	}
	if _, err := env.cluster.Client.AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType, p, metav1.PatchOptions{}); err != nil {
		t.Fatalf("pausing=%v Deployment %s: %v", paused, name, err)
	}
}

// waitNewPod waits until a Pod of app=name exists that is not in old.
func waitNewPod(t *testing.T, ns, name string, old map[string]bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		for p := range podNames(t, ns, "app="+name) {
			if !old[p] {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no new Pod of %s within 60 s of the update", name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWalkthroughPausedRollout: 4 Pods of web under load; the new version
// is patched in and the rollout paused right after the first new Pod; while
// paused both versions answer in proportion to their ready Pods; after
// resume only the new version answers; no request fails.
func TestWalkthroughPausedRollout(t *testing.T) {
	ctx := ctxFor(t, 5*time.Minute)
	ns, host := applyWalkthrough(t, ctx, "paused-rollout.yaml", "rollout.example.test", true)
	waitEndpoints(t, ctx, ns, "web", 4)
	waitServed(t, client(), host, nil, "web")
	v1 := podNames(t, ns, "app=web")

	l := startLoad(t, host)
	l.waitFor(t, "100 answers", func(p map[string]int) bool { return total(p) >= 100 })
	patchWalkthrough(t, ctx, ns, "deployment", "web", "paused-rollout-v2.yaml")
	waitNewPod(t, ns, "web", v1)
	setPaused(t, ctx, ns, "web", true)
	waitEndpoints(t, ctx, ns, "web", 5)
	time.Sleep(6 * time.Second) // past minReadySeconds: a paused rollout stays put
	pods := podNames(t, ns, "app=web")
	newPods := 0
	for p := range pods {
		if !v1[p] {
			newPods++
		}
	}
	if len(pods) != 5 || newPods != 1 {
		t.Fatalf("paused after the first new Pod: want 4 old and 1 new Pod, have %d Pods, %d new", len(pods), newPods)
	}

	l.reset()
	l.waitFor(t, "1000 answers while paused", func(p map[string]int) bool { return total(p) >= 1000 })
	old, fresh := 0, 0
	for p, n := range l.snapshot() {
		if v1[p] {
			old += n
		} else {
			fresh += n
		}
	}
	share := float64(fresh) / float64(old+fresh)
	t.Logf("paused with 4 old Pods and 1 new: %d answers from v1, %d from v2 (%.1f %%, 20 %% expected)", old, fresh, 100*share)
	// sed takes ties in turn, so the share is close to 1/5 (allow 12-28 %).
	if share < 0.12 || share > 0.28 {
		t.Errorf("the new version answered %.1f %% while paused with 1 of 5 Pods", 100*share)
	}

	setPaused(t, ctx, ns, "web", false)
	replaced(t, l, ns, 4, v1)
	l.requireNoFailures(t)
}

// TestWalkthroughBlueGreen switches the Service from blue to green and back
// (the rollback) under load: each switch settles on one colour, no request
// fails.
func TestWalkthroughBlueGreen(t *testing.T) {
	ctx := ctxFor(t, 4*time.Minute)
	ns, host := applyWalkthrough(t, ctx, "blue-green.yaml", "bluegreen.example.test", false)
	waitEndpoints(t, ctx, ns, "web", 2)
	if _, err := env.cluster.WaitPodsReady(ctx, ns, "version=green", 2); err != nil {
		t.Fatal(err)
	}
	waitServed(t, client(), host, nil, "web-blue")

	l := startLoad(t, host)
	l.waitFor(t, "answers from blue", onlyFrom("web-blue"))
	patchWalkthrough(t, ctx, ns, "service", "web", "blue-green-to-green.yaml")
	l.settlesOn(t, "only green after the switch", func(p string) bool { return app(p) == "web-green" })
	t.Logf("switched to green: %v", l.snapshot())
	patchWalkthrough(t, ctx, ns, "service", "web", "blue-green-to-blue.yaml")
	l.settlesOn(t, "only blue after the rollback", func(p string) bool { return app(p) == "web-blue" })
	t.Logf("rolled back to blue: %v", l.snapshot())
	l.requireNoFailures(t)
}

// TestWalkthroughWeightedCanary: 20 % to web-v2 by weight, all of it with
// the header, then the canary aborted (weight 0) while the header still
// reaches it.
func TestWalkthroughWeightedCanary(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ns, host := applyWalkthrough(t, ctx, "weighted-canary.yaml", "canary.example.test", false)
	waitEndpoints(t, ctx, ns, "web-v1", 2)
	waitEndpoints(t, ctx, ns, "web-v2", 1)
	c := client()
	waitServed(t, c, host, h("X-Canary", "always"), "web-v2")
	got := tally(t, c, host, nil, 1000)
	t.Logf("weight 20: %v", got)
	// 4.5 points is about 3.5 standard deviations at n=1000 (see canary_test.go).
	if s := float64(got["web-v2"]) / 10; got[""] > 0 || s < 15.5 || s > 24.5 {
		t.Errorf("weight 20 over 1000 requests: %v", got)
	}
	expectAll(t, c, host, h("X-Canary", "always"), "web-v2", 100)

	patchWalkthrough(t, ctx, ns, "ingress", "web-canary", "weighted-canary-abort.yaml")
	deadline := time.Now().Add(60 * time.Second)
	for got := tally(t, c, host, nil, 200); got["web-v1"] != 200; got = tally(t, c, host, nil, 200) {
		if time.Now().After(deadline) {
			t.Fatalf("after the abort, 200 requests went to %v", got)
		}
	}
	expectAll(t, c, host, h("X-Canary", "always"), "web-v2", 100)
}

// TestWalkthroughFailover freezes one of three Pods (SIGSTOP: its /health
// stops answering, as a deadlocked app's does). Weir's health check and read
// timeout keep traffic on the other two; the liveness probe fails twice and
// the kubelet stops the Pod's process (SIGTERM is held while it is stopped,
// so SIGKILL after the 5 s grace) and restarts it; it then gets traffic
// again. No request fails.
func TestWalkthroughFailover(t *testing.T) {
	ctx := ctxFor(t, 4*time.Minute)
	ns, host := applyWalkthrough(t, ctx, "failover.yaml", "failover.example.test", false)
	waitEndpoints(t, ctx, ns, "web", 3)
	waitServed(t, client(), host, nil, "web")
	l, victim := loadOnEvery(t, ctx, ns, host, 3)
	signal(t, &victim, "echo", syscall.SIGSTOP)
	frozen := time.Now()
	waitRestarted(t, ns, victim.Name)
	t.Logf("%s frozen: restarted by its liveness probe and Ready again after %v", victim.Name, time.Since(frozen).Round(100*time.Millisecond))
	p, err := env.cluster.Client.CoreV1().Pods(ns).Get(ctx, victim.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if last := p.Status.ContainerStatuses[0].LastTerminationState.Terminated; last == nil || last.ExitCode != 137 {
		t.Errorf("the frozen container ended with %+v, want 137 (SIGKILL after the grace)", last)
	}
	l.reset()
	l.waitFor(t, "the restarted Pod answering again", func(p map[string]int) bool { return p[victim.Name] > 0 })
	l.requireNoFailures(t)
}

// TestWeirLivenessRestart freezes one Weir replica with SIGSTOP, so its
// /healthz and /readyz stop answering without the process dying: its
// readiness probe (2 s, one failure) takes it out of the load balancer, its
// liveness probe (deploy/base: every 10 s, three failures, 1 s timeout)
// then fails and the kubelet restarts it after deploy/base's 45 s grace
// (the SIGTERM waits while the process is stopped, then SIGKILL). Meanwhile
// the other replica serves every request; a client retries a GET whose
// connection reached the frozen replica before it left the Service.
func TestWeirLivenessRestart(t *testing.T) {
	ctx := ctxFor(t, 5*time.Minute)
	_, host := servedWeb(t, ctx, "weirlive", 1, false)
	c := &http.Client{Timeout: 30 * time.Second, Transport: retryGET{next: &http.Transport{DisableKeepAlives: true}, timeout: 2 * time.Second, pace: 10 * time.Millisecond}}
	l := startLoadWith(t, host, c)
	l.waitFor(t, "100 answers", func(p map[string]int) bool { return total(p) >= 100 })
	refreshWeirs(t, ctx) // earlier tests restart Weir's containers: read the current ones
	victim := env.weirs[1]
	signal(t, &victim, "weir", syscall.SIGSTOP)
	frozen := time.Now()
	waitPod(t, weirdeploy.Namespace, victim.Name, 3*time.Minute, "restarted after freezing", func(p *corev1.Pod) bool {
		return restarts(p) > restarts(&victim) && localcluster.PodReady(p)
	})
	t.Logf("frozen Weir replica restarted by its liveness probe and Ready after %v", time.Since(frozen).Round(100*time.Millisecond))
	refreshWeirs(t, ctx)
	before := servedBy(t, &victim, host) // its log goes on across restarts
	l.reset()
	l.waitFor(t, "300 answers after the restart", func(p map[string]int) bool { return total(p) >= 300 })
	if n := servedBy(t, &victim, host) - before; n == 0 {
		t.Errorf("the restarted replica %s served none of 300 requests", victim.Name)
	}
	l.requireNoFailures(t)
}
