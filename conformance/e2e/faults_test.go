package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"syscall"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"weir.dev/weir/conformance/weirdeploy"
)

// The faults a cluster really has, each under a steady load of GETs through
// the Service in front of deploy/base's two Weir replicas. Every one ends
// with zero failed requests (TestWeirReplicaKilled: zero after one client
// retry, as a browser or a client library retries a connection that the
// load balancer sent to a dead replica).

// twoApps creates Deployments web (2 Pods) and next (1 Pod) and an Ingress
// for host on web, served by every replica.
func twoApps(t *testing.T, ctx context.Context, ns, host string) {
	t.Helper()
	echoApp(t, ctx, ns, "web", 2)
	echoApp(t, ctx, ns, "next", 1)
	createIngress(t, ctx, ingress(ns, "web", host, "web", nil))
	waitServed(t, client(), host, nil, "web")
}

// moveTo points the Ingress web at Service svc and waits until every
// replica serves it, returning how long that took from the write. After a
// control-plane outage client-go's reflectors retry with a backoff that has
// grown to 30-60 s (not configurable through shared informers), so the wait
// allows three minutes.
func moveTo(t *testing.T, ctx context.Context, ns, host, svc string) time.Duration {
	t.Helper()
	start := time.Now()
	updateIngress(t, ctx, ns, "web", func(ing *networkingv1.Ingress) {
		ing.Spec.Rules[0].HTTP.Paths[0].Backend = backend(svc, 80)
	})
	c := client()
	for _, base := range everyWeir() {
		for {
			e, err := getFrom(c, base, host, "/", nil)
			if err == nil && e.Status == 200 && app(e.Pod) == svc {
				break
			}
			if time.Since(start) > 3*time.Minute {
				t.Fatalf("%s via %s: still not served by %s 3 minutes after the change", host, base, svc)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return time.Since(start)
}

// controlPlaneOutage stops one control-plane process for down under load,
// then checks that a change written once it is back reaches traffic.
func controlPlaneOutage(t *testing.T, component string, down time.Duration) {
	ctx := ctxFor(t, 6*time.Minute)
	ns := namespace(t, ctx)
	host := component + "." + ns + ".test"
	twoApps(t, ctx, ns, host)
	l := startLoad(t, host)
	l.waitFor(t, "100 answers", func(p map[string]int) bool { return total(p) >= 100 })
	start := time.Now()
	if err := env.cluster.RestartControlPlane(ctx, component, down); err != nil {
		t.Fatalf("restarting %s: %v", component, err)
	}
	t.Logf("%s stopped, down %v, healthy again %v after the stop", component, down, time.Since(start).Round(100*time.Millisecond))
	l.reset()
	l.waitFor(t, "answers after the restart", func(p map[string]int) bool { return total(p) >= 100 })
	took := moveTo(t, ctx, ns, host, "next")
	t.Logf("a change written after the restart reached every replica in %v", took.Round(time.Millisecond))
	l.requireNoFailures(t)
}

// TestAPIServerOutage stops kube-apiserver for 30 s and starts it again:
// Weir keeps serving its last table (it stays ready: readiness depends on
// the first table, not on the API server), its watches resync without a
// restart, and a change made once the API server is back is served.
func TestAPIServerOutage(t *testing.T) {
	controlPlaneOutage(t, "kube-apiserver", 30*time.Second)
}

// TestEtcdRestart stops etcd for 10 s and starts it again.
func TestEtcdRestart(t *testing.T) {
	controlPlaneOutage(t, "etcd", 10*time.Second)
}

// TestWeirReplicaKilled SIGKILLs one Weir replica while clients open a new
// connection per request: connections the load balancer sends to it fail at
// once and the retry reaches the other replica, until the Pod leaves the
// EndpointSlice and the kubelet restarts it.
func TestWeirReplicaKilled(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ns := namespace(t, ctx)
	host := "kill." + ns + ".test"
	echoApp(t, ctx, ns, "web", 1)
	createIngress(t, ctx, ingress(ns, "web", host, "web", nil))
	waitServed(t, client(), host, nil, "web")
	c := &http.Client{Timeout: 10 * time.Second, Transport: retryGET{next: &http.Transport{DisableKeepAlives: true}, backoff: 100 * time.Millisecond}}
	l := startLoadWith(t, host, c)
	l.waitFor(t, "100 answers", func(p map[string]int) bool { return total(p) >= 100 })
	victim := env.weirs[1]
	signal(t, &victim, "weir", syscall.SIGKILL)
	waitRestarted(t, weirdeploy.Namespace, victim.Name)
	refreshWeirs(t, ctx)
	l.reset()
	l.waitFor(t, "300 answers after the restart", func(p map[string]int) bool { return total(p) >= 300 })
	if n := servedBy(t, &victim, host); n == 0 {
		t.Errorf("the restarted replica %s served none of 300 requests", victim.Name)
	}
	l.requireNoFailures(t)
}

// TestIngressChurn writes 1,000 changes to another Ingress within about 60 s
// while one is served: no request of the served one fails, and the last
// change is the one in service.
func TestIngressChurn(t *testing.T) {
	ctx := ctxFor(t, 4*time.Minute)
	ns := namespace(t, ctx)
	host := "steady." + ns + ".test"
	churned := "churn." + ns + ".test"
	twoApps(t, ctx, ns, host)
	createIngress(t, ctx, ingress(ns, "churn", churned, "next", nil))
	waitServed(t, client(), churned, nil, "next")
	l := startLoad(t, host)
	const changes = 1000
	ings := env.cluster.Client.NetworkingV1().Ingresses(ns)
	start := time.Now()
	for i := 1; i <= changes; i++ {
		svc := "next"
		if i == changes {
			svc = "web"
		}
		patch := fmt.Sprintf(`{"metadata":{"annotations":{"nginx.ingress.kubernetes.io/proxy-read-timeout":%q}},`+
			`"spec":{"rules":[{"host":%q,"http":{"paths":[{"path":"/","pathType":"Prefix","backend":{"service":{"name":%q,"port":{"number":80}}}}]}}]}}`,
			strconv.Itoa(10+i%50), churned, svc)
		if _, err := ings.Patch(ctx, "churn", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
		// 1,000 changes spread over about 60 s, as a busy cluster's CI would.
		if ahead := time.Until(start.Add(time.Duration(i) * 60 * time.Second / changes)); ahead > 0 {
			time.Sleep(ahead)
		}
	}
	t.Logf("%d Ingress changes written in %v", changes, time.Since(start).Round(100*time.Millisecond))
	waitServed(t, client(), churned, nil, "web")
	l.requireNoFailures(t)
}

// TestEndpointChurn scales the served Deployment between 1 and 10 Pods
// every few seconds: Pods start, become ready and are deleted under load.
func TestEndpointChurn(t *testing.T) {
	ctx := ctxFor(t, 4*time.Minute)
	ns := namespace(t, ctx)
	host := "churn." + ns + ".test"
	gracefulApp(t, ctx, ns, "web", 1)
	createIngress(t, ctx, ingress(ns, "web", host, "web", nil))
	waitServed(t, client(), host, nil, "web")
	l := startLoad(t, host)
	sizes := []int32{10, 1, 6, 2, 10, 1, 4, 1}
	for _, n := range sizes {
		scale(t, ns, "web", n)
		time.Sleep(4 * time.Second)
	}
	waitEndpoints(t, ctx, ns, "web", 1)
	seen := len(l.snapshot())
	t.Logf("scaled web through %v; answers came from %d Pods", sizes, seen)
	if seen < 5 {
		t.Errorf("only %d Pods answered while the Deployment went up to 10: new endpoints did not get traffic", seen)
	}
	l.requireNoFailures(t)
}

// TestBackendFrozen stops one of two backend processes with SIGSTOP: its
// connections open but nothing answers. With a 1 s read timeout GETs retry
// on the other endpoint, the active health check (1 s interval and timeout)
// takes the frozen one out, and after SIGCONT it gets traffic again.
func TestBackendFrozen(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ns := namespace(t, ctx)
	host := "frozen." + ns + ".test"
	echoApp(t, ctx, ns, "web", 2)
	createIngress(t, ctx, ingress(ns, "web", host, "web", map[string]string{
		"nginx.ingress.kubernetes.io/proxy-read-timeout": "1",
		"weir.dev/health-check-path":                     "/health",
		"weir.dev/health-check-interval":                 "1",
		"weir.dev/health-check-timeout":                  "1",
	}))
	waitServed(t, client(), host, nil, "web")
	l, victim := loadOnEvery(t, ctx, ns, host, 2)
	pid := signal(t, &victim, "echo", syscall.SIGSTOP)
	frozen := time.Now()
	// Active checks fail after the 1 s timeout; give rise/fall and the
	// in-flight retries a few intervals.
	time.Sleep(5 * time.Second)
	l.reset()
	l.waitFor(t, "200 answers with one Pod frozen", func(p map[string]int) bool { return total(p) >= 200 })
	if n := l.snapshot()[victim.Name]; n > 0 {
		t.Errorf("the frozen Pod %s still answered %d requests 5 s after SIGSTOP", victim.Name, n)
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s frozen for %v", victim.Name, time.Since(frozen).Round(100*time.Millisecond))
	l.reset()
	l.waitFor(t, "the thawed Pod answering again", func(p map[string]int) bool { return p[victim.Name] > 0 })
	l.requireNoFailures(t)
}
