package localcluster

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The kubelet's three probes, as a real kubelet runs them:
//   - the startup probe runs first; until it succeeds the container is
//     neither started, live-checked nor ready, and failureThreshold failures
//     in a row restart it;
//   - the liveness probe restarts the container after failureThreshold
//     failures in a row: SIGTERM, then SIGKILL after the probe's (else the
//     Pod's) terminationGracePeriodSeconds; the restart policy and back-off
//     then apply as to any exit, and the restart count goes up;
//   - the readiness probe makes the container ready after successThreshold
//     successes in a row and unready after failureThreshold failures.
// Each probe first runs initialDelaySeconds after the container started,
// then every periodSeconds, and fails when it takes over timeoutSeconds.

// prober is the state of one probe of one running container.
type prober struct {
	ok, fail int32
	next     time.Time
}

// due reports whether the probe should run now, and schedules the next run.
func (s *prober) due(p *corev1.Probe, now time.Time) bool {
	if now.Before(s.next) {
		return false
	}
	s.next = now.Add(time.Duration(max(p.PeriodSeconds, 1)) * time.Second)
	return true
}

// record counts one result and reports whether the threshold it reaches
// flips the verdict: passed after successThreshold successes in a row,
// failed after failureThreshold failures in a row.
func (s *prober) record(p *corev1.Probe, err error) (passed, failed bool) {
	if err != nil {
		s.ok, s.fail = 0, s.fail+1
		return false, s.fail >= max(p.FailureThreshold, 1)
	}
	s.ok, s.fail = s.ok+1, 0
	return s.ok >= max(p.SuccessThreshold, 1), false
}

// resetProbes starts every probe afresh for a container just started.
func (c *container) resetProbes() {
	c.ready, c.killing = false, false
	c.started = c.spec.StartupProbe == nil
	c.startup, c.liveness, c.readiness = prober{}, prober{}, prober{}
	delay := func(p *corev1.Probe) time.Time {
		if p == nil {
			return c.startedAt
		}
		return c.startedAt.Add(time.Duration(p.InitialDelaySeconds) * time.Second)
	}
	c.startup.next = delay(c.spec.StartupProbe)
	c.liveness.next = delay(c.spec.LivenessProbe)
	c.readiness.next = delay(c.spec.ReadinessProbe)
}

// runProbes runs the container's probes that are due. A container without
// a readiness probe is ready once started.
func (w *podWorker) runProbes(ctx context.Context, c *container, pod *corev1.Pod) {
	if c.proc == nil || c.killing {
		return
	}
	podIP, now := w.net.addr.String(), time.Now()
	if !c.started {
		sp := c.spec.StartupProbe
		if !c.startup.due(sp, now) {
			return
		}
		err := probe(ctx, sp, c.spec, podIP)
		switch passed, failed := c.startup.record(sp, err); {
		case failed:
			w.unhealthy(ctx, c, pod, "Startup", err)
			w.kill(ctx, c, pod, sp, "failed startup probe")
			return
		case err != nil:
			w.unhealthy(ctx, c, pod, "Startup", err)
			return
		case !passed:
			return
		}
		c.started = true
		// Liveness and readiness start now, or at their initial delay.
		c.liveness.next = later(c.liveness.next, now)
		c.readiness.next = later(c.readiness.next, now)
	}
	if lp := c.spec.LivenessProbe; lp != nil && c.liveness.due(lp, now) {
		err := probe(ctx, lp, c.spec, podIP)
		if err != nil {
			w.unhealthy(ctx, c, pod, "Liveness", err)
		}
		if _, failed := c.liveness.record(lp, err); failed {
			w.kill(ctx, c, pod, lp, "failed liveness probe")
			return
		}
	}
	rp := c.spec.ReadinessProbe
	if rp == nil {
		c.ready = true
		return
	}
	if !c.readiness.due(rp, now) {
		return
	}
	err := probe(ctx, rp, c.spec, podIP)
	if err != nil {
		w.unhealthy(ctx, c, pod, "Readiness", err)
	}
	switch passed, failed := c.readiness.record(rp, err); {
	case passed:
		c.ready = true
	case failed:
		c.ready = false
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// unhealthy logs a failed probe and records an Unhealthy Event (at most
// every 30 s, as warn does).
func (w *podWorker) unhealthy(ctx context.Context, c *container, pod *corev1.Pod, kind string, err error) {
	w.warn(ctx, pod, "Unhealthy", fmt.Sprintf("%s probe failed (container %s): %v", kind, c.spec.Name, err))
}

// kill stops a container that failed its liveness or startup probe:
// SIGTERM, then SIGKILL after the grace period, in the background so the
// Pod's other containers keep being probed. reap then sees the exit and
// restarts the container by the restart policy and its back-off.
func (w *podWorker) kill(ctx context.Context, c *container, pod *corev1.Pod, p *corev1.Probe, why string) {
	grace := probeGrace(pod, p)
	c.killing, c.ready = true, false
	w.k.logf("kubelet: %s/%s: container %s %s; stopping it (grace %v)", pod.Namespace, pod.Name, c.spec.Name, why, grace)
	w.k.event(ctx, pod, corev1.EventTypeNormal, "Killing",
		fmt.Sprintf("Container %s %s, will be restarted", c.spec.Name, why))
	proc := c.proc
	go func() {
		proc.stop(grace)
		w.poke()
	}()
}

// probeGrace is the probe's terminationGracePeriodSeconds, else the Pod's,
// else 30 s.
func probeGrace(pod *corev1.Pod, p *corev1.Probe) time.Duration {
	switch {
	case p.TerminationGracePeriodSeconds != nil:
		return time.Duration(*p.TerminationGracePeriodSeconds) * time.Second
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return 30 * time.Second
}
