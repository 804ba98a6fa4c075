package localcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// podWorker owns one Pod bound to the Node, from first sight to the final
// delete: network, volumes, processes, probes and status. Informer events
// only store the latest Pod and wake it; everything else happens on its own
// goroutine.
type podWorker struct {
	k *kubelet

	mu     sync.Mutex
	latest *corev1.Pod
	isGone bool
	wake   chan struct{}

	// Owned by the run goroutine.
	dir         string
	net         *podNet
	containers  []*container
	unknown     string // why the Pod's images cannot run, if they cannot
	prepared    bool
	held        []string // mount points acquired for this Pod
	warned      map[string]time.Time
	startTime   metav1.Time
	transitions map[corev1.PodConditionType]transition
	pushed      *corev1.PodStatus
}

func newPodWorker(k *kubelet, pod *corev1.Pod) *podWorker {
	return &podWorker{
		k: k, latest: pod, wake: make(chan struct{}, 1),
		dir:         k.l.path("pods", podDirName(pod)),
		warned:      map[string]time.Time{},
		startTime:   metav1.Now(),
		transitions: map[corev1.PodConditionType]transition{},
	}
}

func podDirName(pod *corev1.Pod) string {
	uid := strings.ReplaceAll(string(pod.UID), "-", "")
	if len(uid) > 8 {
		uid = uid[:8]
	}
	return pod.Namespace + "_" + pod.Name + "_" + uid
}

func (w *podWorker) update(pod *corev1.Pod) {
	w.mu.Lock()
	w.latest = pod
	w.mu.Unlock()
	w.poke()
}

func (w *podWorker) gone() {
	w.mu.Lock()
	w.isGone = true
	w.mu.Unlock()
	w.poke()
}

func (w *podWorker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *podWorker) snapshot() (*corev1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.latest, w.isGone
}

// run syncs the Pod on every event and every half second (probes, restarts)
// until it is deleted or the kubelet stops.
func (w *podWorker) run(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		pod, gone := w.snapshot()
		switch {
		case ctx.Err() != nil:
			w.shutdown(2 * time.Second)
			return
		case gone:
			w.shutdown(gracePeriod(pod))
			return
		case pod.DeletionTimestamp != nil:
			w.shutdown(gracePeriod(pod))
			w.finalize(ctx, pod)
			return
		}
		w.sync(ctx, pod)
		select {
		case <-ctx.Done():
		case <-w.wake:
		case <-t.C:
		}
	}
}

func gracePeriod(pod *corev1.Pod) time.Duration {
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		return time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		return time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return 30 * time.Second
}

// sync moves the Pod one step forward and reports its status.
func (w *podWorker) sync(ctx context.Context, pod *corev1.Pod) {
	defer w.pushStatus(ctx, pod)
	if w.containers == nil && !w.resolve(ctx, pod) {
		return
	}
	if w.net == nil {
		if err := w.setupNet(ctx, pod); err != nil {
			w.warn(ctx, pod, "FailedCreatePodSandBox", err.Error())
			return
		}
	}
	if !w.prepared {
		if err := w.prepare(ctx, pod); err != nil {
			w.warn(ctx, pod, "FailedMount", err.Error())
			return
		}
	}
	for _, c := range w.containers {
		w.reap(c, pod)
		if err := w.maybeStart(ctx, c, pod); err != nil {
			w.warn(ctx, pod, "Failed", err.Error())
		}
	}
	for _, c := range w.containers {
		w.runProbes(ctx, c, pod)
	}
}

// resolve maps every container's image to a binary. An unknown image leaves
// the Pod Pending with a Warning Event.
func (w *podWorker) resolve(ctx context.Context, pod *corev1.Pod) bool {
	if w.unknown != "" {
		return false
	}
	var cs []*container
	for i := range pod.Spec.Containers {
		spec := &pod.Spec.Containers[i]
		rule, err := resolveImage(w.k.rules, spec.Image)
		if err != nil {
			w.unknown = err.Error()
			w.k.event(ctx, pod, corev1.EventTypeWarning, "UnknownImage", w.unknown)
			return false
		}
		cs = append(cs, &container{
			spec: spec.DeepCopy(), rule: rule, backoff: time.Second,
			logPath: filepath.Join(w.dir, spec.Name+".log"),
		})
	}
	if len(pod.Spec.InitContainers) > 0 {
		w.k.event(ctx, pod, corev1.EventTypeWarning, "InitContainersSkipped", "this kubelet does not run init containers")
	}
	w.containers = cs
	return true
}

func (w *podWorker) setupNet(ctx context.Context, pod *corev1.Pod) error {
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return fmt.Errorf("creating the pod directory: %w", err)
	}
	addr, err := w.k.ipam.allocate()
	if err != nil {
		return err
	}
	n := newPodNet(w.k.l, string(pod.UID), addr)
	if err := setupPodNet(ctx, w.k.l, n); err != nil {
		w.k.ipam.release(addr)
		return err
	}
	w.net = &n
	return nil
}

// warn records a Warning Event, at most every 30 s per reason.
func (w *podWorker) warn(ctx context.Context, pod *corev1.Pod, reason, msg string) {
	if time.Since(w.warned[reason]) < 30*time.Second {
		return
	}
	w.warned[reason] = time.Now()
	w.k.logf("kubelet: %s/%s: %s: %s", pod.Namespace, pod.Name, reason, msg)
	w.k.event(ctx, pod, corev1.EventTypeWarning, reason, msg)
}

// shutdown stops every container (SIGTERM, grace, SIGKILL) and removes the
// Pod's network namespace, mount points and volumes.
func (w *podWorker) shutdown(grace time.Duration) {
	var wg sync.WaitGroup
	for _, c := range w.containers {
		if c.proc != nil {
			wg.Add(1)
			go func(p *process) {
				defer wg.Done()
				p.stop(grace)
			}(c.proc)
		}
	}
	wg.Wait()
	for _, c := range w.containers {
		if c.logs != nil {
			c.logs.Close()
			c.logs = nil
		}
	}
	if w.net != nil {
		teardownPodNet(context.Background(), *w.net)
		w.k.ipam.release(w.net.addr)
		w.net = nil
	}
	w.k.mounts.release(w.held)
	w.held = nil
	_ = os.RemoveAll(filepath.Join(w.dir, "volumes"))
}

// finalize removes the Pod from the API once its processes are gone.
func (w *podWorker) finalize(ctx context.Context, pod *corev1.Pod) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := w.k.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0),
		Preconditions:      metav1.NewUIDPreconditions(string(pod.UID)),
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) && ctx.Err() == nil {
		w.k.logf("kubelet: finalizing %s/%s: %v", pod.Namespace, pod.Name, err)
	}
}

func (w *podWorker) podIP() string {
	if w.net == nil {
		return ""
	}
	return w.net.addr.String()
}
