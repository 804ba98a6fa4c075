package e2e

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"weir.dev/weir/conformance/weirdeploy"
)

// TestReplicaDrain deletes one of the two Weir replicas while clients send
// requests, each on a new connection, through the Service's address. Weir
// keeps accepting for --shutdown-delay (deploy/base's default, 5 s) while
// the Pod leaves the EndpointSlice and the load balancer stops choosing it,
// then finishes what is in flight: no request fails. Both replicas served
// before; the Deployment's replacement serves after.
func TestReplicaDrain(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ns := namespace(t, ctx)
	echoApp(t, ctx, ns, "web", 1)
	host := "drain." + ns + ".test"
	createIngress(t, ctx, ingress(ns, "web", host, "web", nil))
	fresh := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	waitServed(t, fresh, host, nil, "web")
	l := startLoadWith(t, host, fresh)
	l.waitFor(t, "200 answers", func(p map[string]int) bool { return total(p) >= 200 })
	for i := range env.weirs {
		if n := servedBy(t, &env.weirs[i], host); n == 0 {
			t.Errorf("Weir Pod %s served none of the first 200 requests: the Service does not spread connections", env.weirs[i].Name)
		}
	}

	victim := env.weirs[0]
	deleteWeir(t, ctx, &victim)
	waitWeirGone(t, ctx, &victim)
	l.reset()
	l.waitFor(t, "200 more answers", func(p map[string]int) bool { return total(p) >= 200 })
	l.requireNoFailures(t)
	for i := range env.weirs {
		if env.weirs[i].Name != victim.Name && servedBy(t, &env.weirs[i], host) == 0 {
			t.Errorf("Weir Pod %s served none of the requests after the drain", env.weirs[i].Name)
		}
	}
}

// deleteWeir deletes a Weir Pod: it gets SIGTERM and drains.
func deleteWeir(t *testing.T, ctx context.Context, weir *corev1.Pod) {
	t.Helper()
	if err := env.cluster.Client.CoreV1().Pods(weirdeploy.Namespace).Delete(ctx, weir.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

// waitWeirGone waits until a deleted Weir Pod has drained and is gone, then
// until the Deployment's replacement is Ready (refreshWeirs).
func waitWeirGone(t *testing.T, ctx context.Context, weir *corev1.Pod) {
	t.Helper()
	start := time.Now()
	for {
		_, err := env.cluster.Client.CoreV1().Pods(weirdeploy.Namespace).Get(ctx, weir.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("Weir Pod %s still there %s after its deletion", weir.Name, time.Since(start).Round(time.Second))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("Weir Pod %s drained and gone %s after the wait began", weir.Name, time.Since(start).Round(100*time.Millisecond))
	refreshWeirs(t, ctx)
}

// refreshWeirs waits for the Deployment's replicas to be Ready again and
// makes them the suite's Weir Pods.
func refreshWeirs(t *testing.T, ctx context.Context) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	pods, err := env.cluster.WaitPodsReady(wctx, weirdeploy.Namespace, weirdeploy.Selector, weirReplicas)
	if err != nil {
		t.Fatal(err)
	}
	env.weirs = pods
}

// servedBy counts the access-log lines of a Weir Pod for host. Weir
// writes its access log in batches flushed within a second, so a count of
// zero is read again for up to three seconds before it is believed.
func servedBy(t *testing.T, weir *corev1.Pod, host string) int {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		b, err := os.ReadFile(env.cluster.PodLogPath(weir, "weir"))
		if err != nil {
			t.Fatal(err)
		}
		n := strings.Count(string(b), `"host":"`+host+`"`)
		if n > 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(200 * time.Millisecond)
	}
}
