package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"weir.dev/weir/conformance/weirdeploy"
)

// The Lease deploy/base's --election-id names, and the log lines Weir's
// status writer (controller/status) prints when it starts and stops leading.
const (
	leaseName      = "weir-leader"
	startedMsg     = "weir started" // cmd/weir
	leadingMsg     = "leading: writing status"
	stoppedMsg     = "no longer writing status"
	statusWriteErr = "updating Ingress status"
)

// TestLeaderElection runs deploy/base's two replicas: exactly one holds the
// Lease and says it leads, under an identity made of its Pod name and a
// suffix; SIGKILLed, the leader is replaced by another process within about
// the lease duration (the killed one's restart is a new candidate, never the
// old holder); and a new Ingress's status is written once, by the leader.
func TestLeaderElection(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	t.Cleanup(func() { keepWeirLog(t) })
	lease, leader := currentLeader(t, ctx)
	holder := *lease.Spec.HolderIdentity
	start := checkLeaders(t, nil, holder, nil)

	signal(t, leader, "weir", syscall.SIGKILL)
	killed := time.Now()
	duration := time.Duration(*lease.Spec.LeaseDurationSeconds) * time.Second
	var next *coordinationv1.Lease
	deadline := killed.Add(2*duration + 30*time.Second) // generous: only "never" fails
	for {
		l, err := env.cluster.Client.CoordinationV1().Leases(weirdeploy.Namespace).Get(ctx, leaseName, metav1.GetOptions{})
		if err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != holder && *l.Spec.HolderIdentity != "" {
			next = l
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Lease still names the killed leader %s %s after the kill", holder, time.Since(killed).Round(time.Second))
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := next.Spec.AcquireTime.Sub(lease.Spec.RenewTime.Time)
	t.Logf("leader %s SIGKILLed; %s took the Lease %s after the kill, %s after the old holder's last renewal (lease duration %s)",
		holder, *next.Spec.HolderIdentity, time.Since(killed).Round(100*time.Millisecond), took.Round(100*time.Millisecond), duration)
	if took > 2*duration {
		t.Errorf("the Lease changed hands %s after the last renewal, want about the lease duration %s", took, duration)
	}
	if _, err := env.cluster.WaitPodsReady(ctx, weirdeploy.Namespace, weirdeploy.Selector, weirReplicas); err != nil {
		t.Fatal(err)
	}
	newHolder := *next.Spec.HolderIdentity
	checkLeaders(t, &start, newHolder, []string{newHolder})
	checkStatusWrittenOnce(t, ctx)
	checkLeaders(t, &start, newHolder, []string{newHolder})
}

// currentLeader waits for the Lease to name a process of one of Weir's Pods
// and returns the Lease and that Pod.
func currentLeader(t *testing.T, ctx context.Context) (*coordinationv1.Lease, *corev1.Pod) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		lease, err := env.cluster.Client.CoordinationV1().Leases(weirdeploy.Namespace).Get(ctx, leaseName, metav1.GetOptions{})
		if err == nil && lease.Spec.HolderIdentity != nil {
			for i := range env.weirs {
				if strings.HasPrefix(*lease.Spec.HolderIdentity, env.weirs[i].Name+"_") {
					pod, err := env.cluster.Client.CoreV1().Pods(weirdeploy.Namespace).Get(ctx, env.weirs[i].Name, metav1.GetOptions{})
					if err != nil {
						t.Fatal(err)
					}
					return lease, pod
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Lease %s/%s never named a Weir Pod (%v, %+v)", weirdeploy.Namespace, leaseName, err, lease)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// leadership is what the replicas' logs say about leading: per replica,
// every identity that said it leads, in order, and the identity its current
// process (since its last start) leads as, if it does.
type leadership struct {
	said    [][]string
	current []string
}

// readLeadership reads every replica's log (all runs of its container).
func readLeadership(t *testing.T) leadership {
	t.Helper()
	var l leadership
	for i := range env.weirs {
		f, err := os.Open(env.cluster.PodLogPath(&env.weirs[i], "weir"))
		if err != nil {
			t.Fatal(err)
		}
		var said []string
		current := ""
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line struct {
				Msg      string `json:"msg"`
				Identity string `json:"identity"`
			}
			if !strings.Contains(sc.Text(), `"msg":"`) || json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			switch line.Msg {
			case startedMsg, stoppedMsg:
				current = ""
			case leadingMsg:
				if !strings.HasPrefix(line.Identity, env.weirs[i].Name+"_") {
					t.Errorf("Pod %s leads as %q: want its name and a suffix", env.weirs[i].Name, line.Identity)
				}
				said, current = append(said, line.Identity), line.Identity
			}
		}
		f.Close()
		l.said, l.current = append(l.said, said), append(l.current, current)
	}
	return l
}

// checkLeaders checks that exactly one running process leads, as want, and
// that since before (nil: ever) the processes that said they lead were
// exactly since, once each: a second "leading" line, or one from another
// process, would mean two leaders.
func checkLeaders(t *testing.T, before *leadership, want string, since []string) leadership {
	t.Helper()
	now := readLeadership(t)
	var leading, said []string
	for i := range now.current {
		if now.current[i] != "" {
			leading = append(leading, now.current[i])
		}
		from := 0
		if before != nil && i < len(before.said) {
			from = len(before.said[i])
		}
		said = append(said, now.said[i][from:]...)
	}
	if len(leading) != 1 || leading[0] != want {
		t.Errorf("running processes that lead: %q; want exactly %q", leading, want)
	}
	if since != nil && !sameSet(said, since) {
		t.Errorf("processes that said they lead during the test: %q; want exactly %q", said, since)
	}
	return now
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		if seen[s]--; seen[s] < 0 {
			return false
		}
	}
	return true
}

// checkStatusWrittenOnce creates an Ingress and watches it: its status gets
// the Service's address in exactly one write, and no replica reports a
// failed status write (a second writer would lose on a conflict).
func checkStatusWrittenOnce(t *testing.T, ctx context.Context) {
	t.Helper()
	ns := namespace(t, ctx)
	echoApp(t, ctx, ns, "web", 1)
	api := env.cluster.Client.NetworkingV1().Ingresses(ns)
	w, err := api.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	createIngress(t, ctx, ingress(ns, "once", "once."+ns+".test", "web", nil))
	writes, last := 0, ""
	settle := time.After(60 * time.Second)
	for done := false; !done; {
		select {
		case ev := <-w.ResultChan():
			ing, ok := ev.Object.(*networkingv1.Ingress)
			if !ok || ev.Type != watch.Modified {
				continue
			}
			if status := ingressIPs(ing); status != last {
				writes++
				last = status
				if status == env.address {
					settle = time.After(5 * time.Second) // watch a little longer for a second writer
				}
			}
		case <-settle:
			done = true
		}
	}
	if last != env.address || writes != 1 {
		t.Errorf("Ingress status: %d changes, last %q; want one write of %s", writes, last, env.address)
	}
	for i := range env.weirs {
		b, _ := os.ReadFile(env.cluster.PodLogPath(&env.weirs[i], "weir"))
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, statusWriteErr) && strings.Contains(line, `"namespace":"`+ns+`"`) {
				t.Errorf("Pod %s failed to write the status (two writers?): %s", env.weirs[i].Name, line)
			}
		}
	}
}

func ingressIPs(ing *networkingv1.Ingress) string {
	var ips []string
	for _, in := range ing.Status.LoadBalancer.Ingress {
		ips = append(ips, in.IP+in.Hostname)
	}
	return strings.Join(ips, ",")
}
