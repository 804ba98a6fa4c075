package localcluster

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestProberThresholds(t *testing.T) {
	p := &corev1.Probe{FailureThreshold: 3, SuccessThreshold: 2}
	var s prober
	fail := errors.New("no answer")
	steps := []struct {
		err            error
		passed, failed bool
	}{
		{fail, false, false}, {fail, false, false}, {nil, false, false}, // a success resets the failures
		{fail, false, false}, {fail, false, false}, {fail, false, true}, // three in a row
		{fail, false, true}, {nil, false, false}, {nil, true, false}, // two successes in a row
	}
	for i, st := range steps {
		passed, failed := s.record(p, st.err)
		if passed != st.passed || failed != st.failed {
			t.Fatalf("step %d: passed %v failed %v, want %v %v", i, passed, failed, st.passed, st.failed)
		}
	}
	// Thresholds of 0 mean 1, as the API server's defaults would set them.
	var z prober
	if passed, _ := z.record(&corev1.Probe{}, nil); !passed {
		t.Errorf("one success does not pass a probe with successThreshold 0")
	}
}

func TestProberSchedule(t *testing.T) {
	p := &corev1.Probe{PeriodSeconds: 5, InitialDelaySeconds: 3}
	t0 := time.Now()
	c := &container{spec: &corev1.Container{LivenessProbe: p, StartupProbe: &corev1.Probe{}}, startedAt: t0}
	c.resetProbes()
	if c.started {
		t.Fatalf("a container with a startup probe counts as started before it passed")
	}
	if c.liveness.due(p, t0.Add(2*time.Second)) {
		t.Errorf("liveness due before initialDelaySeconds")
	}
	if !c.liveness.due(p, t0.Add(3*time.Second)) {
		t.Errorf("liveness not due at initialDelaySeconds")
	}
	if c.liveness.due(p, t0.Add(7*time.Second)) || !c.liveness.due(p, t0.Add(8*time.Second)) {
		t.Errorf("liveness not every periodSeconds")
	}
	c.spec.StartupProbe = nil
	c.resetProbes()
	if !c.started {
		t.Errorf("a container without a startup probe is not started")
	}
}

func TestProbeGrace(t *testing.T) {
	pod := &corev1.Pod{}
	if g := probeGrace(pod, &corev1.Probe{}); g != 30*time.Second {
		t.Errorf("default grace %v, want 30s", g)
	}
	pod.Spec.TerminationGracePeriodSeconds = ptrInt64(45)
	if g := probeGrace(pod, &corev1.Probe{}); g != 45*time.Second {
		t.Errorf("the Pod's grace: %v, want 45s", g)
	}
	if g := probeGrace(pod, &corev1.Probe{TerminationGracePeriodSeconds: ptrInt64(2)}); g != 2*time.Second {
		t.Errorf("the probe's grace: %v, want 2s", g)
	}
}

func ptrInt64(v int64) *int64 { return &v }
