package controller

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gatewayinformers "sigs.k8s.io/gateway-api/pkg/client/informers/externalversions"

	"weir.dev/weir/controller/translate"
)

// GatewayOptions turn the Gateway API side on.
type GatewayOptions struct {
	// Client is the typed Gateway API clientset.
	Client gatewayclient.Interface
	// Discovery tells whether the Gateway API CRDs are installed (a
	// client's Discovery()). Weir serves Ingress without them and starts
	// watching Gateway API objects when they appear; nil means they are
	// always there (offline mode).
	Discovery ResourceDiscovery
	// PollInterval is how often Discovery is asked whether the CRDs were
	// installed or removed (default 15s).
	PollInterval time.Duration
	// Services, when set, makes the leader keep one LoadBalancer Service per
	// Gateway (gateway_services.go) and binds each listener to the
	// container port recorded in it. When nil, each listener binds its own
	// port (offline mode, or Weir on the host network).
	Services *ServiceOptions
}

// ResourceDiscovery is the part of client-go's discovery client Weir uses.
type ResourceDiscovery interface {
	ServerResourcesForGroupVersion(groupVersion string) (*metav1.APIResourceList, error)
}

// gatewayGroupVersion is the API Weir reads; the listed resources are the
// ones it watches when the API server serves them.
const gatewayGroupVersion = "gateway.networking.k8s.io/v1"

var gatewayResources = []string{"gatewayclasses", "gateways", "httproutes", "grpcroutes", "referencegrants", "backendtlspolicies", "listenersets"}

// gatewaySide watches the Gateway API objects while their CRDs are
// installed. Its informers start when discovery first shows them and stop
// when they go; in between, nothing about Ingress waits on them.
type gatewaySide struct {
	c    *Controller
	opts GatewayOptions

	mu        sync.Mutex
	factory   gatewayinformers.SharedInformerFactory // nil while not installed
	resources map[string]bool                        // the resources watched
	stop      context.CancelFunc
	synced    []cache.InformerSynced
	missing   bool // the "not installed" line was logged
}

func newGatewaySide(c *Controller, opts GatewayOptions) *gatewaySide {
	if opts.PollInterval <= 0 {
		opts.PollInterval = 15 * time.Second
	}
	return &gatewaySide{c: c, opts: opts}
}

// installed returns the Gateway API resources the API server serves (nil
// when none of the required ones).
func (g *gatewaySide) installed() (map[string]bool, error) {
	all := make(map[string]bool, len(gatewayResources))
	if g.opts.Discovery == nil {
		for _, r := range gatewayResources {
			all[r] = true
		}
		return all, nil
	}
	list, err := g.opts.Discovery.ServerResourcesForGroupVersion(gatewayGroupVersion)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("discovering %s: %w", gatewayGroupVersion, err)
	}
	for _, r := range list.APIResources {
		all[r.Name] = true
	}
	if !all["gatewayclasses"] || !all["gateways"] {
		return nil, nil
	}
	return all, nil
}

// check starts or stops the informers to match what is installed. It
// returns the informers to wait for when it started them.
func (g *gatewaySide) check(ctx context.Context) []cache.InformerSynced {
	found, err := g.installed()
	if err != nil {
		g.c.log.Warn("cannot tell whether the Gateway API is installed; will ask again", zap.Error(err))
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case found == nil && g.factory != nil:
		g.c.log.Info("the Gateway API CRDs were removed; no longer watching Gateway API objects")
		g.stopLocked()
		g.c.enqueue()
	case found == nil && !g.missing:
		g.missing = true
		g.c.log.Info("the Gateway API CRDs are not installed; serving Ingress only and checking again periodically",
			zap.Duration("every", g.opts.PollInterval))
	case found != nil && (g.factory == nil || !sameSet(found, g.resources)):
		g.stopLocked()
		g.startLocked(ctx, found)
		g.c.log.Info("watching Gateway API objects", zap.Strings("resources", keys(found)))
		g.c.enqueue()
		return g.synced
	}
	return nil
}

func (g *gatewaySide) startLocked(ctx context.Context, found map[string]bool) {
	ctx, g.stop = context.WithCancel(ctx)
	f := gatewayinformers.NewSharedInformerFactoryWithOptions(g.opts.Client, 0,
		gatewayinformers.WithNamespace(g.c.opts.WatchNamespace), gatewayinformers.WithTransform(stripForCache))
	v1 := f.Gateway().V1()
	informers := map[string]cache.SharedIndexInformer{
		"gatewayclasses":     v1.GatewayClasses().Informer(),
		"gateways":           v1.Gateways().Informer(),
		"httproutes":         v1.HTTPRoutes().Informer(),
		"grpcroutes":         v1.GRPCRoutes().Informer(),
		"referencegrants":    v1.ReferenceGrants().Informer(),
		"backendtlspolicies": v1.BackendTLSPolicies().Informer(),
		"listenersets":       v1.ListenerSets().Informer(),
	}
	g.synced = nil
	for _, name := range gatewayResources {
		if !found[name] {
			continue
		}
		inf := informers[name]
		if _, err := inf.AddEventHandler(g.c.handler()); err != nil {
			g.c.log.Error("adding a Gateway API event handler", zap.String("resource", name), zap.Error(err))
		}
		g.synced = append(g.synced, inf.HasSynced)
	}
	f.Start(ctx.Done())
	g.factory, g.resources, g.missing = f, found, false
}

func (g *gatewaySide) stopLocked() {
	if g.factory == nil {
		return
	}
	g.stop()
	g.factory.Shutdown()
	g.factory, g.resources, g.synced = nil, nil, nil
}

// run polls discovery until ctx ends.
func (g *gatewaySide) run(ctx context.Context) {
	defer g.c.recoverLog("Gateway API discovery")
	t := time.NewTicker(g.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			g.mu.Lock()
			g.stopLocked()
			g.mu.Unlock()
			return
		case <-t.C:
		}
		if synced := g.check(ctx); synced != nil {
			go func() {
				if cache.WaitForCacheSync(ctx.Done(), synced...) {
					g.c.enqueue() // the first build with the Gateway objects in
				}
			}()
		}
	}
}

// ready reports whether the Gateway API informers run and have synced: only
// then do Gateway inputs (and their absence) mean anything.
func (g *gatewaySide) ready() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.factory == nil {
		return false
	}
	for _, s := range g.synced {
		if !s() {
			return false
		}
	}
	return true
}

// addInputs lists the cached Gateway API objects into in. Nothing is added
// while the informers are not running or not synced.
func (g *gatewaySide) addInputs(in *translate.Inputs) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.factory == nil {
		return nil
	}
	for _, s := range g.synced {
		if !s() {
			return nil
		}
	}
	v1 := g.factory.Gateway().V1()
	all := labels.Everything()
	var err error
	if in.GatewayClasses, err = v1.GatewayClasses().Lister().List(all); err != nil {
		return err
	}
	if in.Gateways, err = v1.Gateways().Lister().List(all); err != nil {
		return err
	}
	if g.resources["httproutes"] {
		if in.HTTPRoutes, err = v1.HTTPRoutes().Lister().List(all); err != nil {
			return err
		}
	}
	if g.resources["grpcroutes"] {
		if in.GRPCRoutes, err = v1.GRPCRoutes().Lister().List(all); err != nil {
			return err
		}
	}
	if g.resources["backendtlspolicies"] {
		if in.BackendTLSPolicies, err = v1.BackendTLSPolicies().Lister().List(all); err != nil {
			return err
		}
	}
	if g.resources["listenersets"] {
		if in.ListenerSets, err = v1.ListenerSets().Lister().List(all); err != nil {
			return err
		}
	}
	if g.resources["referencegrants"] {
		if in.ReferenceGrants, err = v1.ReferenceGrants().Lister().List(all); err != nil {
			return err
		}
	}
	if in.Namespaces, err = g.c.factory.Core().V1().Namespaces().Lister().List(all); err != nil {
		return err
	}
	in.ConfigMaps, err = g.c.factory.Core().V1().ConfigMaps().Lister().List(all)
	return err
}

// caOnly keeps of a ConfigMap only what translation reads, its name and
// ca.crt, so that caching every ConfigMap of the cluster costs little.
func caOnly(obj any) (any, error) {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return obj, nil
	}
	out := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: cm.Name, Namespace: cm.Namespace, UID: cm.UID,
		ResourceVersion: cm.ResourceVersion, Generation: cm.Generation}}
	if ca, ok := cm.Data["ca.crt"]; ok {
		out.Data = map[string]string{"ca.crt": ca}
	}
	return out, nil
}

// watches reports whether the informer of a resource runs.
func (g *gatewaySide) watches(resource string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.resources[resource]
}

// lister returns the running informer factory (nil while not installed),
// for the status writer's reads of the cached objects.
func (g *gatewaySide) lister() gatewayinformers.SharedInformerFactory {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.factory
}

// statusOnly reports whether an update of a Gateway API object left its
// generation, labels and annotations alone: it changed only status (Weir's
// own writes among them) and cannot change the table. ReferenceGrants have
// no status and are not asked.
func statusOnly(oldObj, newObj any) bool {
	o, ok1 := oldObj.(metav1.Object)
	n, ok2 := newObj.(metav1.Object)
	if !ok1 || !ok2 {
		return false
	}
	switch newObj.(type) {
	case *gatewayv1.Gateway, *gatewayv1.GatewayClass, *gatewayv1.HTTPRoute, *gatewayv1.GRPCRoute, *gatewayv1.BackendTLSPolicy, *gatewayv1.ListenerSet:
	default:
		return false
	}
	return o.GetGeneration() == n.GetGeneration() && mapsEqual(o.GetLabels(), n.GetLabels()) &&
		mapsEqual(o.GetAnnotations(), n.GetAnnotations())
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func sameSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func keys(m map[string]bool) []string {
	var out []string
	for _, r := range gatewayResources {
		if m[r] {
			out = append(out, r)
		}
	}
	return out
}
