// Package offline runs Weir's controller without an API server: the objects
// come from YAML files, loaded into client-go's fake clientset, and the very
// same informers and translation run on them. The files are watched (their
// modification times polled every second) and changes are applied as
// creates, updates and deletes, so the table follows edits as it would
// follow kubectl apply. No status is written and no Events are recorded.
package offline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"weir.dev/weir/controller"
	"weir.dev/weir/controller/manifests"
)

// PollInterval is how often the manifests' modification times are checked.
const PollInterval = time.Second

// Offline is a controller fed from files.
type Offline struct {
	path    string
	client  *fake.Clientset
	ctl     *controller.Controller
	log     *zap.Logger
	objects map[string]runtime.Object
	stamp   string
}

// New loads path (a file or a directory of YAML files) and prepares the
// controller. A file that does not parse is an error here; later, while
// watching, it is logged and the previous objects stay.
func New(path string, opts controller.Options, pub controller.Publisher, log *zap.Logger, reg prometheus.Registerer) (*Offline, error) {
	if log == nil {
		log = zap.NewNop()
	}
	objs, err := manifests.Load(path)
	if err != nil {
		return nil, err
	}
	o := &Offline{path: path, client: fake.NewClientset(), log: log, objects: make(map[string]runtime.Object)}
	if err := o.apply(context.Background(), objs); err != nil {
		return nil, err
	}
	o.stamp, _ = stamp(path)
	opts.Status, opts.Events = nil, false
	if o.ctl, err = controller.New(o.client, opts, pub, log, reg); err != nil {
		return nil, err
	}
	return o, nil
}

// Controller is the controller running on the files.
func (o *Offline) Controller() *controller.Controller { return o.ctl }

// Run serves until ctx ends.
func (o *Offline) Run(ctx context.Context) error {
	go o.watch(ctx)
	return o.ctl.Run(ctx)
}

func (o *Offline) watch(ctx context.Context) {
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s, err := stamp(o.path)
		if err != nil || s == o.stamp {
			continue
		}
		o.stamp = s
		objs, err := manifests.Load(o.path)
		if err != nil {
			o.log.Error("manifests changed but do not load; keeping the previous objects", zap.Error(err))
			continue
		}
		if err := o.apply(ctx, objs); err != nil {
			o.log.Error("applying changed manifests", zap.Error(err))
			continue
		}
		o.log.Info("manifests reloaded", zap.String("path", o.path), zap.Int("objects", len(objs)))
	}
}

// stamp summarises the modification times and sizes of the manifest files.
func stamp(path string) (string, error) {
	var s string
	files := []string{path}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		files, _ = filepath.Glob(filepath.Join(path, "*"))
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		s += fmt.Sprintf("%s:%d:%d;", f, st.ModTime().UnixNano(), st.Size())
	}
	return s, nil
}

// apply makes the fake clientset hold exactly objs.
func (o *Offline) apply(ctx context.Context, objs []runtime.Object) error {
	next := make(map[string]runtime.Object, len(objs))
	for _, obj := range objs {
		k, ok := key(obj)
		if !ok {
			continue
		}
		next[k] = obj
	}
	for k, obj := range next {
		prev, exists := o.objects[k]
		switch {
		case !exists:
			if err := o.write(ctx, obj, false); err != nil {
				return err
			}
		case !equality.Semantic.DeepEqual(prev, obj):
			if err := o.write(ctx, obj, true); err != nil {
				return err
			}
		}
	}
	for k, obj := range o.objects {
		if _, ok := next[k]; !ok {
			if err := o.remove(ctx, obj); err != nil {
				return err
			}
		}
	}
	o.objects = next
	return nil
}

func key(obj runtime.Object) (string, bool) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return "", false
	}
	switch obj.(type) {
	case *networkingv1.Ingress, *networkingv1.IngressClass, *corev1.Service, *discoveryv1.EndpointSlice, *corev1.Secret:
	default:
		return "", false
	}
	return fmt.Sprintf("%T/%s/%s", obj, m.GetNamespace(), m.GetName()), true
}

func (o *Offline) write(ctx context.Context, obj runtime.Object, update bool) error {
	c := o.client
	var err error
	switch v := obj.(type) {
	case *networkingv1.Ingress:
		ns(&v.Namespace)
		if update {
			_, err = c.NetworkingV1().Ingresses(v.Namespace).Update(ctx, v, metav1.UpdateOptions{})
		} else {
			_, err = c.NetworkingV1().Ingresses(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		}
	case *networkingv1.IngressClass:
		if update {
			_, err = c.NetworkingV1().IngressClasses().Update(ctx, v, metav1.UpdateOptions{})
		} else {
			_, err = c.NetworkingV1().IngressClasses().Create(ctx, v, metav1.CreateOptions{})
		}
	case *corev1.Service:
		ns(&v.Namespace)
		if update {
			_, err = c.CoreV1().Services(v.Namespace).Update(ctx, v, metav1.UpdateOptions{})
		} else {
			_, err = c.CoreV1().Services(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		}
	case *discoveryv1.EndpointSlice:
		ns(&v.Namespace)
		if update {
			_, err = c.DiscoveryV1().EndpointSlices(v.Namespace).Update(ctx, v, metav1.UpdateOptions{})
		} else {
			_, err = c.DiscoveryV1().EndpointSlices(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		}
	case *corev1.Secret:
		ns(&v.Namespace)
		if update {
			_, err = c.CoreV1().Secrets(v.Namespace).Update(ctx, v, metav1.UpdateOptions{})
		} else {
			_, err = c.CoreV1().Secrets(v.Namespace).Create(ctx, v, metav1.CreateOptions{})
		}
	}
	if err != nil {
		return fmt.Errorf("loading %T into the offline store: %w", obj, err)
	}
	return nil
}

func (o *Offline) remove(ctx context.Context, obj runtime.Object) error {
	c := o.client
	m := obj.(metav1.Object)
	name, n := m.GetName(), m.GetNamespace()
	var err error
	switch obj.(type) {
	case *networkingv1.Ingress:
		err = c.NetworkingV1().Ingresses(n).Delete(ctx, name, metav1.DeleteOptions{})
	case *networkingv1.IngressClass:
		err = c.NetworkingV1().IngressClasses().Delete(ctx, name, metav1.DeleteOptions{})
	case *corev1.Service:
		err = c.CoreV1().Services(n).Delete(ctx, name, metav1.DeleteOptions{})
	case *discoveryv1.EndpointSlice:
		err = c.DiscoveryV1().EndpointSlices(n).Delete(ctx, name, metav1.DeleteOptions{})
	case *corev1.Secret:
		err = c.CoreV1().Secrets(n).Delete(ctx, name, metav1.DeleteOptions{})
	}
	return err
}

func ns(s *string) {
	if *s == "" {
		*s = "default"
	}
}
