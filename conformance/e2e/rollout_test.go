package e2e

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"weir.dev/weir/conformance/localcluster"
	"weir.dev/weir/conformance/weirdeploy"
)

// onlyFrom reports whether every answer came from Pods of Deployment d.
func onlyFrom(d string) func(map[string]int) bool {
	return func(pods map[string]int) bool {
		if len(pods) == 0 {
			return false
		}
		for p := range pods {
			if app(p) != d {
				return false
			}
		}
		return true
	}
}

// TestBlueGreen switches a Service's selector from the blue Pods to the
// green ones under steady load: no request fails and, once the switch is
// seen, only green answers.
func TestBlueGreen(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ns := namespace(t, ctx)
	host := "bluegreen." + ns + ".test"
	createDeployment(t, ctx, weirdeploy.Echo(ns, "blue", "web", "v1", 2))
	createDeployment(t, ctx, weirdeploy.Echo(ns, "green", "web", "v2", 2))
	createService(t, ctx, service(ns, "web", map[string]string{"app": "web", "version": "v1"}))
	waitEndpoints(t, ctx, ns, "web", 2)
	if _, err := env.cluster.WaitPodsReady(ctx, ns, "version=v2", 2); err != nil {
		t.Fatal(err)
	}
	createIngress(t, ctx, ingress(ns, "web", host, "web", nil))
	waitServed(t, client(), host, nil, "blue")

	l := startLoad(t, host)
	l.waitFor(t, "answers from blue", onlyFrom("blue"))
	svc, err := env.cluster.Client.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	svc.Spec.Selector["version"] = "v2"
	if _, err := env.cluster.Client.CoreV1().Services(ns).Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	l.settlesOn(t, "only green after the switch", func(p string) bool { return app(p) == "green" })
	l.requireNoFailures(t)
}

func total(pods map[string]int) int {
	n := 0
	for _, v := range pods {
		n += v
	}
	return n
}

// TestRollingUpdate changes a Deployment's Pod template under steady load:
// every old Pod is replaced and no GET fails (Weir retries a GET whose
// connection is refused on another endpoint).
func TestRollingUpdate(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ns, host := servedWeb(t, ctx, "rolling", 2, true)
	before := podNames(t, ns, "app=web")

	l := startLoad(t, host)
	l.waitFor(t, "answers from web", func(p map[string]int) bool { return total(p) >= 50 })
	api := env.cluster.Client.AppsV1().Deployments(ns)
	d, err := api.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Template.Annotations = map[string]string{"e2e/revision": "2"}
	if _, err := api.Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	after := replaced(t, l, ns, 2, before)
	l.reset()
	l.waitFor(t, "answers from every new Pod", func(p map[string]int) bool {
		for name := range after {
			if p[name] == 0 {
				return false
			}
		}
		return true
	})
	l.requireNoFailures(t)
}

// waitRolledOut waits until the Deployment runs n updated, available Pods
// and nothing else.
func waitRolledOut(t *testing.T, ns, name string, n int32) {
	t.Helper()
	ctx := ctxFor(t, 2*time.Minute)
	var d *appsv1.Deployment
	for {
		var err error
		d, err = env.cluster.Client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == n &&
			d.Status.AvailableReplicas == n && d.Status.Replicas == n {
			if len(podNames(t, ns, "app="+name)) == int(n) {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Deployment %s not rolled out to %d Pods within 2 min: %+v", name, n, d.Status)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// podNames returns the Pods matching selector that are not being deleted.
func podNames(t *testing.T, ns, selector string) map[string]bool {
	t.Helper()
	list, err := env.cluster.Client.CoreV1().Pods(ns).List(ctxFor(t, 30*time.Second), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil {
			out[p.Name] = true
		}
	}
	return out
}

// TestScale scales a Deployment from 1 to 3 Pods and back under load: the
// new Pods get traffic, the removed ones stop getting it, no GET fails.
func TestScale(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ns, host := servedWeb(t, ctx, "scale", 1, true)

	l := startLoad(t, host)
	scale(t, ns, "web", 3)
	l.waitFor(t, "answers from 3 Pods", func(p map[string]int) bool { return len(p) == 3 })
	scale(t, ns, "web", 1)
	waitRolledOut(t, ns, "web", 1)
	waitEndpoints(t, ctx, ns, "web", 1)
	left := podNames(t, ns, "app=web")
	l.settlesOn(t, "only the remaining Pod after scaling down", func(p string) bool { return left[p] })
	l.requireNoFailures(t)
}

func scale(t *testing.T, ns, name string, n int32) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	api := env.cluster.Client.AppsV1().Deployments(ns)
	s, err := api.GetScale(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Spec.Replicas = n
	if _, err := api.UpdateScale(ctx, name, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestFailover kills one of three backend processes under load. Its
// connections are refused until the kubelet restarts it and its readiness
// probe passes again; meanwhile Weir retries refused GETs on another
// endpoint, ejects the endpoint after repeated failures, and drops it when
// the EndpointSlice marks it not ready. No GET may fail, and the restarted
// Pod gets traffic again.
func TestFailover(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ns, host := servedWeb(t, ctx, "failover", 3, false)
	l, victim := loadOnEvery(t, ctx, ns, host, 3)
	signal(t, &victim, "echo", syscall.SIGKILL)
	waitNotReady(t, ns, victim.Name)
	waitRestarted(t, ns, victim.Name)
	l.reset()
	l.waitFor(t, "the restarted Pod answering again", func(p map[string]int) bool { return p[victim.Name] > 0 })
	l.requireNoFailures(t)
}

// waitNotReady waits until the endpoint of Pod name is not ready in any
// EndpointSlice of its namespace: the kubelet's probe noticed the crash.
func waitNotReady(t *testing.T, ns, name string) {
	t.Helper()
	waitPod(t, ns, name, 60*time.Second, "not Ready after its process was killed", func(p *corev1.Pod) bool { return !localcluster.PodReady(p) })
}

// waitRestarted waits until Pod name is Ready again with a restart counted.
func waitRestarted(t *testing.T, ns, name string) {
	t.Helper()
	waitPod(t, ns, name, 90*time.Second, "Ready again after the kill", func(p *corev1.Pod) bool { return localcluster.PodReady(p) && restarts(p) > 0 })
}

// waitPod polls Pod ns/name until ok holds, failing the test after d.
func waitPod(t *testing.T, ns, name string, d time.Duration, what string, ok func(*corev1.Pod) bool) {
	t.Helper()
	ctx := ctxFor(t, d)
	for {
		p, err := env.cluster.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && ok(p) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Pod %s/%s not %s within %v", ns, name, what, d)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// replaced waits until Deployment web of ns has rolled out n Pods, none of
// them in old, and the load answers only from them; it returns them.
func replaced(t *testing.T, l *load, ns string, n int32, old map[string]bool) map[string]bool {
	t.Helper()
	waitRolledOut(t, ns, "web", n)
	after := podNames(t, ns, "app=web")
	for p := range after {
		if old[p] {
			t.Fatalf("old Pod %s survived the rollout", p)
		}
	}
	l.settlesOn(t, "only the new Pods after the rollout", func(p string) bool { return after[p] })
	return after
}

// loadOnEvery starts load on host once the n web Pods of ns are Ready and
// waits until each has answered; it returns the load and one of the Pods.
func loadOnEvery(t *testing.T, ctx context.Context, ns, host string, n int) (*load, corev1.Pod) {
	t.Helper()
	pods, err := env.cluster.WaitPodsReady(ctx, ns, "app=web", n)
	if err != nil {
		t.Fatal(err)
	}
	l := startLoad(t, host)
	l.waitFor(t, fmt.Sprintf("answers from all %d Pods", n), func(p map[string]int) bool { return len(p) == n })
	return l, pods[0]
}

// servedWeb starts a test: its namespace, Deployment and Service web of
// replicas echo Pods (gracefulApp's with graceful, else echoApp's) and an
// Ingress for "<label>.<namespace>.test" to web, served by every Weir
// replica. It returns the namespace and the host.
func servedWeb(t *testing.T, ctx context.Context, label string, replicas int32, graceful bool) (ns, host string) {
	t.Helper()
	ns = namespace(t, ctx)
	host = label + "." + ns + ".test"
	if graceful {
		gracefulApp(t, ctx, ns, "web", replicas)
	} else {
		echoApp(t, ctx, ns, "web", replicas)
	}
	createIngress(t, ctx, ingress(ns, "web", host, "web", nil))
	waitServed(t, client(), host, nil, "web")
	return ns, host
}

func restarts(p *corev1.Pod) int32 {
	var n int32
	for _, cs := range p.Status.ContainerStatuses {
		n += cs.RestartCount
	}
	return n
}

// TestAbruptScaleDown scales down Pods that exit at once on SIGTERM (plain
// echo-basic): the Pod IP vanishes before the EndpointSlice change reaches
// Weir, so a request dialled to it in that window waits for the connect
// timeout (5 s, ingress-nginx's default) and is then retried on another
// endpoint. With a client that waits longer than that, no GET fails; the
// slow ones are logged. Compare TestScale, whose Pods end gracefully.
func TestAbruptScaleDown(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ns, host := servedWeb(t, ctx, "abrupt", 3, false)
	patient := client()
	patient.Timeout = 30 * time.Second
	l := startLoadWith(t, host, patient)
	l.waitFor(t, "answers from 3 Pods", func(p map[string]int) bool { return len(p) == 3 })
	scale(t, ns, "web", 1)
	waitRolledOut(t, ns, "web", 1)
	waitEndpoints(t, ctx, ns, "web", 1)
	// Long enough for a request stuck in a connect to time out and retry.
	time.Sleep(6 * time.Second)
	l.requireNoFailures(t)
}
