package localcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// kubelet is the process kubelet: it registers the cluster's Node, keeps its
// Lease fresh, binds every unscheduled Pod to it and runs one podWorker per
// bound Pod.
type kubelet struct {
	l      layout
	client kubernetes.Interface
	logf   Logf
	rules  []ImageRule
	ipam   *ipam
	mounts *mountDirs

	mu      sync.Mutex
	workers map[types.UID]*podWorker
	binding map[types.UID]bool
	wg      sync.WaitGroup
	done    chan struct{}
}

func (c *Cluster) startKubelet(ctx context.Context, opts Options, bins Binaries) error {
	k := &kubelet{
		l: c.l, client: c.Client, logf: c.logf,
		rules:   defaultImageRules(opts, bins),
		ipam:    newIPAM(c.l),
		mounts:  newMountDirs(c.l),
		workers: map[types.UID]*podWorker{},
		binding: map[types.UID]bool{},
		done:    make(chan struct{}),
	}
	if err := k.registerNode(ctx); err != nil {
		return err
	}
	// The kubelet outlives Up's context: it stops with Cluster.Down.
	runCtx, cancel := context.WithCancel(context.Background())
	c.kubelet, c.cancel = k, cancel
	factory := informers.NewSharedInformerFactory(c.Client, 0)
	podInformer := factory.Core().V1().Pods().Informer()
	_, err := podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { k.observe(runCtx, obj) },
		UpdateFunc: func(_, obj any) { k.observe(runCtx, obj) },
		DeleteFunc: func(obj any) { k.forget(obj) },
	})
	if err != nil {
		cancel()
		return fmt.Errorf("watching Pods: %w", err)
	}
	srv, err := k.serve(runCtx)
	if err != nil {
		cancel()
		return err
	}
	factory.Start(runCtx.Done())
	go k.run(runCtx, factory, srv)
	if !cache.WaitForCacheSync(ctx.Done(), podInformer.HasSynced) {
		cancel()
		return fmt.Errorf("waiting for the kubelet's Pod cache: %w", ctx.Err())
	}
	return nil
}

// run renews the Lease until ctx ends, then waits for every Pod worker to
// stop its processes.
func (k *kubelet) run(ctx context.Context, factory informers.SharedInformerFactory, srv *http.Server) {
	defer close(k.done)
	goSafe(k.logf, "lease", func() { k.renewLease(ctx) })
	<-ctx.Done()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutCtx)
	factory.Shutdown()
	k.wg.Wait()
}

// goSafe runs f in a goroutine that logs instead of crashing on panic.
func goSafe(logf Logf, what string, f func()) {
	go func() {
		defer func() {
			if r := recover(); r != nil {
				logf("kubelet: %s panicked: %v\n%s", what, r, debug.Stack())
			}
		}()
		f()
	}()
}

func (k *kubelet) registerNode(ctx context.Context) error {
	hostname, _ := os.Hostname()
	now := metav1.Now()
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("64Gi"),
		corev1.ResourcePods:   resource.MustParse("250"),
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: k.l.nodeName(),
			Labels: map[string]string{
				"kubernetes.io/hostname": k.l.nodeName(),
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
			},
		},
		Spec: corev1.NodeSpec{PodCIDR: k.l.podPrefix.String(), PodCIDRs: []string{k.l.podPrefix.String()}},
	}
	created, err := k.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("registering Node %s: %w", node.Name, err)
	}
	created.Status = corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: capacity,
		Phase:       corev1.NodeRunning,
		Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			Message: "weir process kubelet is ready", LastHeartbeatTime: now, LastTransitionTime: now,
		}},
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: k.l.bridgeAddr.String()},
			{Type: corev1.NodeHostName, Address: hostname},
		},
		DaemonEndpoints: k.daemonEndpoints(),
		NodeInfo:        corev1.NodeSystemInfo{KubeletVersion: "v1.37.2-weir", OperatingSystem: "linux", Architecture: "amd64"},
	}
	if _, err := k.client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("marking Node %s Ready: %w", node.Name, err)
	}
	return nil
}

// renewLease keeps the Node's Lease in kube-node-lease fresh every 10 s.
func (k *kubelet) renewLease(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		if err := k.touchLease(ctx); err != nil && ctx.Err() == nil {
			k.logf("kubelet: renewing the node Lease: %v", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (k *kubelet) touchLease(ctx context.Context) error {
	leases := k.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	name := k.l.nodeName()
	now := metav1.NewMicroTime(time.Now())
	lease, err := leases.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: corev1.NamespaceNodeLease},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity: ptr.To(name), LeaseDurationSeconds: ptr.To[int32](40), RenewTime: &now,
			},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	lease.Spec.RenewTime = &now
	_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
	return err
}

// observe handles a Pod add or update from the informer.
func (k *kubelet) observe(ctx context.Context, obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || ctx.Err() != nil {
		return
	}
	switch pod.Spec.NodeName {
	case "":
		k.bindLater(ctx, pod)
	case k.l.nodeName():
		k.worker(ctx, pod).update(pod)
	}
}

// forget handles a Pod that is gone from the API: its worker stops it
// without asking the API for anything.
func (k *kubelet) forget(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	k.mu.Lock()
	w := k.workers[pod.UID]
	k.mu.Unlock()
	if w != nil {
		w.gone()
	}
}

// worker returns the Pod's worker, starting one on first sight.
func (k *kubelet) worker(ctx context.Context, pod *corev1.Pod) *podWorker {
	k.mu.Lock()
	defer k.mu.Unlock()
	if w := k.workers[pod.UID]; w != nil {
		return w
	}
	w := newPodWorker(k, pod)
	k.workers[pod.UID] = w
	k.wg.Add(1)
	goSafe(k.logf, "pod "+pod.Namespace+"/"+pod.Name, func() {
		defer k.wg.Done()
		defer k.removeWorker(pod.UID)
		w.run(ctx)
	})
	return w
}

func (k *kubelet) removeWorker(uid types.UID) {
	k.mu.Lock()
	delete(k.workers, uid)
	k.mu.Unlock()
}

// bindLater binds an unscheduled Pod to the Node (there is no scheduler).
func (k *kubelet) bindLater(ctx context.Context, pod *corev1.Pod) {
	if pod.DeletionTimestamp != nil {
		return
	}
	if s := pod.Spec.SchedulerName; s != "" && s != corev1.DefaultSchedulerName {
		return
	}
	k.mu.Lock()
	if k.binding[pod.UID] {
		k.mu.Unlock()
		return
	}
	k.binding[pod.UID] = true
	k.mu.Unlock()
	goSafe(k.logf, "bind", func() {
		defer func() {
			k.mu.Lock()
			delete(k.binding, pod.UID)
			k.mu.Unlock()
		}()
		b := &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
			Target:     corev1.ObjectReference{Kind: "Node", Name: k.l.nodeName()},
		}
		bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		err := k.client.CoreV1().Pods(pod.Namespace).Bind(bctx, b, metav1.CreateOptions{})
		switch {
		case err == nil:
			k.event(ctx, pod, corev1.EventTypeNormal, "Scheduled",
				fmt.Sprintf("Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, k.l.nodeName()))
		case !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) && ctx.Err() == nil:
			k.logf("kubelet: binding %s/%s: %v", pod.Namespace, pod.Name, err)
		}
	})
}

// event records a Kubernetes Event about a Pod.
func (k *kubelet) event(ctx context.Context, pod *corev1.Pod, typ, reason, msg string) {
	ref := corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID}
	recordEvent(ctx, k.client, ref, typ, reason, msg, corev1.EventSource{Component: "kubelet", Host: k.l.nodeName()}, k.logf)
}

// recordEvent creates an Event about ref from src; a failure is logged,
// never returned.
func recordEvent(ctx context.Context, client kubernetes.Interface, ref corev1.ObjectReference, typ, reason, msg string, src corev1.EventSource, logf Logf) {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	now := metav1.Now()
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: ref.Name + "." + hex.EncodeToString(suffix), Namespace: ref.Namespace},
		InvolvedObject: ref,
		Reason:         reason, Message: msg, Type: typ, Count: 1,
		FirstTimestamp: now, LastTimestamp: now,
		Source: src,
	}
	ectx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := client.CoreV1().Events(ref.Namespace).Create(ectx, ev, metav1.CreateOptions{}); err != nil && ctx.Err() == nil {
		logf("%s: recording event %s for %s %s/%s: %v", src.Component, reason, ref.Kind, ref.Namespace, ref.Name, err)
	}
}
