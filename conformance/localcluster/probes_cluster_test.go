package localcluster_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"weir.dev/weir/conformance/localcluster"
)

// TestLivenessAndStartupProbes runs a server that starts listening after 3 s
// and ignores SIGTERM, with a startup probe (tcpSocket), a readiness probe
// and a liveness probe (httpGet of a file the test removes):
//   - until the startup probe passes the container is Running but neither
//     started nor ready, and the Pod says ContainersNotReady;
//   - when the file goes, the liveness probe fails twice and the kubelet
//     stops the container: SIGTERM (ignored), SIGKILL after the Pod's 3 s
//     grace, so it ends with 137 no sooner than the grace;
//   - it is restarted (restart count 1) and is Ready again.
func TestLivenessAndStartupProbes(t *testing.T) {
	c := localcluster.Start(t, localcluster.Options{Images: []localcluster.ImageRule{shellImage}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	alive := filepath.Join(dir, "alive")
	if err := os.WriteFile(alive, []byte("ok"), 0o644); err != nil {
		t.Fatal(err)
	}
	pod := shellPod("probed", `trap '' TERM; sleep 3; cd "$DIR"; exec python3 -m http.server 8080`)
	pod.Spec.TerminationGracePeriodSeconds = ptr.To[int64](3)
	ct := &pod.Spec.Containers[0]
	ct.Env = []corev1.EnvVar{{Name: "DIR", Value: dir}}
	ct.StartupProbe = &corev1.Probe{PeriodSeconds: 1, FailureThreshold: 30,
		ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}}
	ct.ReadinessProbe = &corev1.Probe{PeriodSeconds: 1,
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(8080)}}}
	ct.LivenessProbe = &corev1.Probe{PeriodSeconds: 1, FailureThreshold: 2, TimeoutSeconds: 1,
		ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/alive", Port: intstr.FromInt32(8080)}}}
	if _, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the Pod: %v", err)
	}
	get := func(ctx context.Context) *corev1.Pod {
		p, err := c.Client.CoreV1().Pods("default").Get(ctx, "probed", metav1.GetOptions{})
		if err != nil || len(p.Status.ContainerStatuses) == 0 {
			return nil
		}
		return p
	}
	poll(ctx, t, "Running before the startup probe passed", func(ctx context.Context) (bool, error) {
		p := get(ctx)
		return p != nil && p.Status.ContainerStatuses[0].State.Running != nil, nil
	})
	p := get(ctx)
	cs := p.Status.ContainerStatuses[0]
	if cs.Started == nil || *cs.Started || cs.Ready || localcluster.PodReady(p) {
		t.Fatalf("before its startup probe passed the container is started=%v ready=%v", ptr.Deref(cs.Started, false), cs.Ready)
	}
	if r := condition(p, corev1.ContainersReady); r.Reason != "ContainersNotReady" {
		t.Errorf("ContainersReady condition %+v, want reason ContainersNotReady", r)
	}
	poll(ctx, t, "Ready after the startup probe", func(ctx context.Context) (bool, error) {
		p := get(ctx)
		return p != nil && localcluster.PodReady(p) && ptr.Deref(p.Status.ContainerStatuses[0].Started, false), nil
	})

	if err := os.Remove(alive); err != nil {
		t.Fatal(err)
	}
	removed := time.Now()
	poll(ctx, t, "a restart after the liveness probe failed", func(ctx context.Context) (bool, error) {
		p := get(ctx)
		return p != nil && p.Status.ContainerStatuses[0].RestartCount >= 1, nil
	})
	took := time.Since(removed)
	if err := os.WriteFile(alive, []byte("ok"), 0o644); err != nil {
		t.Fatal(err)
	}
	last := get(ctx).Status.ContainerStatuses[0].LastTerminationState.Terminated
	if last == nil || last.ExitCode != 137 {
		t.Errorf("the container ignoring SIGTERM ended with %+v, want exit code 137 (SIGKILL after the grace)", last)
	}
	// Two failed probes a second apart, then the 3 s grace.
	if took < 4*time.Second {
		t.Errorf("restarted %v after the file went: sooner than two failures and the 3 s grace", took)
	}
	t.Logf("liveness failure to restart: %v", took.Round(100*time.Millisecond))
	poll(ctx, t, "Ready again after the restart", func(ctx context.Context) (bool, error) {
		p := get(ctx)
		return p != nil && localcluster.PodReady(p), nil
	})
	if n := get(ctx).Status.ContainerStatuses[0].RestartCount; n != 1 {
		t.Errorf("restart count %d, want 1", n)
	}
}

func condition(p *corev1.Pod, typ corev1.PodConditionType) corev1.PodCondition {
	for _, c := range p.Status.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return corev1.PodCondition{}
}
