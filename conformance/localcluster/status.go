package localcluster

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// transition remembers when a Pod condition last changed value.
type transition struct {
	status corev1.ConditionStatus
	at     metav1.Time
}

func metav1Time(t time.Time) metav1.Time { return metav1.NewTime(t.Truncate(time.Second)) }

// buildStatus computes the Pod's status from the worker's state.
func (w *podWorker) buildStatus(pod *corev1.Pod) corev1.PodStatus {
	hostIP := w.k.l.bridgeAddr.String()
	st := corev1.PodStatus{
		Phase:     w.phase(),
		HostIP:    hostIP,
		HostIPs:   []corev1.HostIP{{IP: hostIP}},
		StartTime: &w.startTime,
		QOSClass:  pod.Status.QOSClass,
	}
	if ip := w.podIP(); ip != "" {
		st.PodIP = ip
		st.PodIPs = []corev1.PodIP{{IP: ip}}
	}
	allReady := len(w.containers) > 0
	var unready []string
	for i := range pod.Spec.Containers {
		cs := w.containerStatus(pod, i)
		allReady = allReady && cs.Ready
		if !cs.Ready {
			unready = append(unready, cs.Name)
		}
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	if w.unknown != "" {
		st.Reason, st.Message = "UnknownImage", w.unknown
	}
	st.Conditions = []corev1.PodCondition{
		w.condition(corev1.PodReadyToStartContainers, w.net != nil),
		w.condition(corev1.PodInitialized, w.net != nil),
		w.condition(corev1.ContainersReady, allReady),
		w.condition(corev1.PodReady, allReady),
		w.condition(corev1.PodScheduled, true),
	}
	if !allReady {
		// As the kubelet words it.
		for i := 2; i <= 3; i++ {
			st.Conditions[i].Reason = "ContainersNotReady"
			st.Conditions[i].Message = fmt.Sprintf("containers with unready status: %v", unready)
		}
	}
	return st
}

func (w *podWorker) phase() corev1.PodPhase {
	if w.containers == nil || !w.prepared {
		return corev1.PodPending
	}
	finished, failed := 0, false
	for _, c := range w.containers {
		if c.proc == nil && c.lastTerm == nil {
			return corev1.PodPending // never started yet
		}
		if c.finished {
			finished++
			failed = failed || c.lastTerm.ExitCode != 0
		}
	}
	switch {
	case finished < len(w.containers):
		return corev1.PodRunning
	case failed:
		return corev1.PodFailed
	}
	return corev1.PodSucceeded
}

func (w *podWorker) condition(typ corev1.PodConditionType, ok bool) corev1.PodCondition {
	s := corev1.ConditionFalse
	if ok {
		s = corev1.ConditionTrue
	}
	t, seen := w.transitions[typ]
	if !seen || t.status != s {
		t = transition{status: s, at: metav1Time(time.Now())}
		w.transitions[typ] = t
	}
	return corev1.PodCondition{Type: typ, Status: s, LastTransitionTime: t.at}
}

func (w *podWorker) containerStatus(pod *corev1.Pod, i int) corev1.ContainerStatus {
	spec := pod.Spec.Containers[i]
	cs := corev1.ContainerStatus{Name: spec.Name, Image: spec.Image, ImageID: spec.Image}
	if w.containers == nil {
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull", Message: w.unknown}
		if w.unknown == "" {
			cs.State.Waiting.Reason = "ContainerCreating"
		}
		return cs
	}
	c := w.containers[i]
	cs.RestartCount = c.restarts
	cs.Ready = c.ready
	cs.Started = ptrBool(c.proc != nil && c.started)
	if c.lastTerm != nil {
		cs.LastTerminationState.Terminated = c.lastTerm
	}
	switch {
	case c.proc != nil:
		cs.ContainerID = fmt.Sprintf("weir://%d", c.proc.cmd.Process.Pid)
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1Time(c.startedAt)}
	case c.finished:
		cs.State.Terminated = c.lastTerm
	case c.lastTerm != nil:
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off restarting the container"}
	default:
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
	}
	return cs
}

func ptrBool(b bool) *bool { return &b }

// pushStatus writes the status when it changed since the last write.
func (w *podWorker) pushStatus(ctx context.Context, pod *corev1.Pod) {
	st := w.buildStatus(pod)
	if w.pushed != nil && apiequality.Semantic.DeepEqual(*w.pushed, st) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	pods := w.k.client.CoreV1().Pods(pod.Namespace)
	current := pod.DeepCopy()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current.Status = st
		_, err := pods.UpdateStatus(ctx, current, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			fresh, gerr := pods.Get(ctx, pod.Name, metav1.GetOptions{})
			if gerr != nil {
				return gerr
			}
			if fresh.UID != pod.UID {
				return nil
			}
			current = fresh
		}
		return err
	})
	switch {
	case err == nil:
		w.pushed = &st
	case apierrors.IsNotFound(err) || ctx.Err() != nil:
	default:
		w.k.logf("kubelet: updating the status of %s/%s: %v", pod.Namespace, pod.Name, err)
	}
}
