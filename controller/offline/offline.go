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
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayfake "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned/fake"

	"weir.dev/weir/controller"
	"weir.dev/weir/controller/manifests"
)

// PollInterval is how often the manifests' modification times are checked.
const PollInterval = time.Second

// Offline is a controller fed from files.
type Offline struct {
	path     string
	client   *fake.Clientset
	gateways *gatewayfake.Clientset
	ctl      *controller.Controller
	log      *zap.Logger
	objects  map[string]runtime.Object
	stamp    string
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
	// The simple fake clientsets: NewClientset's server-side-apply tracker
	// parses client-go's whole OpenAPI schema when made (about 25 MB
	// allocated, which with GOGC at 400 stayed in the heap and set its
	// first goal: 65 MiB of RSS at idle instead of 36), and offline Weir
	// only creates, updates and deletes (docs/performance.md, "Memory").
	o := &Offline{path: path, client: fake.NewSimpleClientset(), log: log, objects: make(map[string]runtime.Object),
		gateways: gatewayfake.NewSimpleClientset()}
	if err := o.apply(context.Background(), objs); err != nil {
		return nil, err
	}
	o.stamp, _ = stamp(path)
	opts.Status, opts.Events = nil, false
	if opts.Gateway != nil {
		// The Gateway API is "installed" (its objects come from the files)
		// and each listener binds its own port: no Services offline.
		opts.Gateway = &controller.GatewayOptions{Client: o.gateways}
	}
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
	for _, obj := range manifests.Normalize(objs) {
		k, ok := key(obj)
		if !ok {
			continue
		}
		next[k] = obj
	}
	for k, obj := range next {
		prev, exists := o.objects[k]
		// metadata.generation as an API server keeps it: 1 on creation, one
		// more on every change (Gateway API objects are rebuilt on a
		// generation change only).
		m, pm := obj.(metav1.Object), metav1.Object(nil)
		if exists {
			pm = prev.(metav1.Object)
			m.SetGeneration(pm.GetGeneration())
		}
		switch {
		case !exists:
			m.SetGeneration(1)
			if err := o.write(ctx, obj, false); err != nil {
				return err
			}
		case !equality.Semantic.DeepEqual(prev, obj):
			m.SetGeneration(pm.GetGeneration() + 1)
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
	case *networkingv1.Ingress, *networkingv1.IngressClass, *corev1.Service, *discoveryv1.EndpointSlice, *corev1.Secret,
		*corev1.ConfigMap, *corev1.Namespace, *gatewayv1.GatewayClass, *gatewayv1.Gateway, *gatewayv1.HTTPRoute, *gatewayv1.GRPCRoute,
		*gatewayv1.ReferenceGrant:
	default:
		return "", false
	}
	return fmt.Sprintf("%T/%s/%s", obj, m.GetNamespace(), m.GetName()), true
}

func (o *Offline) write(ctx context.Context, obj runtime.Object, update bool) error {
	verb := create
	if update {
		verb = replace
	}
	if err := o.do(ctx, obj, verb); err != nil {
		return fmt.Errorf("loading %T into the offline store: %w", obj, err)
	}
	return nil
}

func (o *Offline) remove(ctx context.Context, obj runtime.Object) error {
	return o.do(ctx, obj, remove)
}

type verb int

const (
	create verb = iota
	replace
	remove
)

// typed is the part of a client-go typed client the offline store uses.
type typed[T any] interface {
	Create(context.Context, T, metav1.CreateOptions) (T, error)
	Update(context.Context, T, metav1.UpdateOptions) (T, error)
	Delete(context.Context, string, metav1.DeleteOptions) error
}

func apply[T any](ctx context.Context, c typed[T], obj T, name string, v verb) error {
	var err error
	switch v {
	case create:
		_, err = c.Create(ctx, obj, metav1.CreateOptions{})
	case replace:
		_, err = c.Update(ctx, obj, metav1.UpdateOptions{})
	case remove:
		err = c.Delete(ctx, name, metav1.DeleteOptions{})
	}
	return err
}

// do creates, updates or deletes obj in the fake clientsets.
func (o *Offline) do(ctx context.Context, obj runtime.Object, v verb) error {
	m := obj.(metav1.Object)
	ns, name := m.GetNamespace(), m.GetName()
	c, g := o.client, o.gateways.GatewayV1()
	switch x := obj.(type) {
	case *networkingv1.Ingress:
		return apply(ctx, c.NetworkingV1().Ingresses(ns), x, name, v)
	case *networkingv1.IngressClass:
		return apply(ctx, c.NetworkingV1().IngressClasses(), x, name, v)
	case *corev1.Service:
		return apply(ctx, c.CoreV1().Services(ns), x, name, v)
	case *discoveryv1.EndpointSlice:
		return apply(ctx, c.DiscoveryV1().EndpointSlices(ns), x, name, v)
	case *corev1.Secret:
		return apply(ctx, c.CoreV1().Secrets(ns), x, name, v)
	case *corev1.ConfigMap:
		return apply(ctx, c.CoreV1().ConfigMaps(ns), x, name, v)
	case *corev1.Namespace:
		return apply(ctx, c.CoreV1().Namespaces(), x, name, v)
	case *gatewayv1.GatewayClass:
		return apply(ctx, g.GatewayClasses(), x, name, v)
	case *gatewayv1.Gateway:
		return apply(ctx, g.Gateways(ns), x, name, v)
	case *gatewayv1.HTTPRoute:
		return apply(ctx, g.HTTPRoutes(ns), x, name, v)
	case *gatewayv1.GRPCRoute:
		return apply(ctx, g.GRPCRoutes(ns), x, name, v)
	case *gatewayv1.ReferenceGrant:
		return apply(ctx, g.ReferenceGrants(ns), x, name, v)
	}
	return nil
}
