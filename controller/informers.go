package controller

import (
	"fmt"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"weir.dev/weir/annotations"
	"weir.dev/weir/controller/translate"
)

// setupInformers registers the informers translation reads and their
// handlers: every relevant change schedules one rebuild.
func (c *Controller) setupInformers() error {
	f := c.factory
	c.listers = listers{factory: f, secrets: c.secrets, auth: c.auth, nsSelector: c.opts.NamespaceSelector}
	authInformer, authHandler := c.auth.informer(c.enqueue)
	headersInformer, headersHandler := c.auth.configMapInformer(c.enqueue) // ConfigMaps of headers
	handler := c.handler()
	// EndpointSlice changes only mark their Service, so that a rebuild
	// caused by nothing else can take the endpoint-only fast path.
	slices := cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.enqueueSlice(obj) },
		UpdateFunc: func(oldObj, newObj any) {
			if changed(oldObj, newObj) {
				c.enqueueSlice(newObj)
			}
		},
		DeleteFunc: func(obj any) { c.enqueueSlice(obj) },
	}
	type registration struct {
		informer cache.SharedIndexInformer
		handler  cache.ResourceEventHandler
	}
	regs := []registration{
		{f.Networking().V1().Ingresses().Informer(), c.ingressHandler()},
		{f.Networking().V1().IngressClasses().Informer(), handler},
		{f.Core().V1().Services().Informer(), handler},
		{f.Discovery().V1().EndpointSlices().Informer(), slices},
		{c.secrets.Core().V1().Secrets().Informer(), handler},
		{authInformer, authHandler},
		{headersInformer, headersHandler},
	}
	if c.gw != nil || c.opts.NamespaceSelector != nil {
		// Listeners' allowedRoutes and --watch-namespace-selector select
		// namespaces by label.
		regs = append(regs, registration{f.Core().V1().Namespaces().Informer(), handler})
	}
	if c.gw != nil {
		// ConfigMaps hold the CAs of Gateways' client-certificate
		// validation and of BackendTLSPolicies.
		cms := f.Core().V1().ConfigMaps().Informer()
		if err := cms.SetTransform(caOnly); err != nil {
			return fmt.Errorf("caching ConfigMaps: %w", err)
		}
		regs = append(regs, registration{cms, c.caHandler()})
	}
	for _, inf := range regs {
		if _, err := inf.informer.AddEventHandler(inf.handler); err != nil {
			return fmt.Errorf("adding an event handler: %w", err)
		}
		c.synced = append(c.synced, inf.informer.HasSynced)
	}
	if c.global != nil {
		// Not waited for: a ConfigMap Weir may not read yet leaves it on
		// the configuration it started with (configmap.go), not unready.
		if _, err := c.global.factory.Core().V1().ConfigMaps().Informer().AddEventHandler(handler); err != nil {
			return fmt.Errorf("adding an event handler: %w", err)
		}
	}
	return nil
}

// handler schedules a full rebuild on every change that can change the
// table.
func (c *Controller) handler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { c.enqueue() },
		UpdateFunc: func(oldObj, newObj any) {
			if changed(oldObj, newObj) {
				c.enqueue()
			}
		},
		DeleteFunc: func(any) { c.enqueue() },
	}
}

// ingressHandler records which Ingresses changed, so that a rebuild caused
// by nothing else can take the Ingress fast path.
func (c *Controller) ingressHandler() cache.ResourceEventHandler {
	note := func(obj any) {
		key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
		if err != nil {
			c.enqueue()
			return
		}
		c.enqueueIngress(key)
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if c.mayBeWeirs(obj) {
				note(obj)
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			// Before or after: a change of class into or out of Weir's.
			if changed(oldObj, newObj) && (c.mayBeWeirs(oldObj) || c.mayBeWeirs(newObj)) {
				note(newObj)
			}
		},
		DeleteFunc: func(obj any) {
			if c.mayBeWeirs(obj) {
				note(obj)
			}
		},
	}
}

// mayBeWeirs is false only for an Ingress that is certainly another
// controller's (translate.IsWeirs against the cached IngressClasses, the
// default-class annotation included): its changes cannot change the table,
// so they cause no rebuild. A change of the IngressClasses themselves
// rebuilds in full from the cache (handler), so an Ingress judged here
// with classes about to change is translated with the new ones then.
func (c *Controller) mayBeWeirs(obj any) bool {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	ing, ok := obj.(*networkingv1.Ingress)
	if !ok {
		return true
	}
	classes, err := c.factory.Networking().V1().IngressClasses().Lister().List(labels.Everything())
	if err != nil {
		return true
	}
	return translate.IsWeirs(ing, classes, c.opts.Translate)
}

// enqueueSlice records the Service whose EndpointSlice changed; anything
// it cannot name forces a full rebuild.
func (c *Controller) enqueueSlice(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	s, ok := obj.(*discoveryv1.EndpointSlice)
	svc := ""
	if ok {
		svc = s.Labels[discoveryv1.LabelServiceName]
	}
	c.burstMu.Lock()
	if svc == "" {
		c.full = true
	} else {
		c.dirty[s.Namespace+"/"+svc] = true
	}
	c.burstMu.Unlock()
	c.schedule()
}

// changed drops updates that cannot change the table: resyncs (same
// resourceVersion), and status-only updates of Ingresses and Gateway API
// objects (Weir's own status writes among them).
func changed(oldObj, newObj any) bool {
	o, ok1 := oldObj.(metav1.Object)
	n, ok2 := newObj.(metav1.Object)
	if !ok1 || !ok2 {
		return true
	}
	if rv := n.GetResourceVersion(); rv != "" && rv == o.GetResourceVersion() {
		return false
	}
	if statusOnly(oldObj, newObj) {
		return false
	}
	oi, ok1 := oldObj.(*networkingv1.Ingress)
	ni, ok2 := newObj.(*networkingv1.Ingress)
	if ok1 && ok2 {
		return !reflect.DeepEqual(oi.Spec, ni.Spec) || !reflect.DeepEqual(oi.Annotations, ni.Annotations)
	}
	return true
}

// caHandler schedules a rebuild when a CA bundle may have changed: the
// Gateway side's ConfigMaps are cached with ca.crt only (caOnly), so an
// update that leaves ca.crt alone changes nothing Weir reads.
func (c *Controller) caHandler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { c.enqueue() },
		UpdateFunc: func(oldObj, newObj any) {
			o, ok1 := oldObj.(*corev1.ConfigMap)
			n, ok2 := newObj.(*corev1.ConfigMap)
			if !ok1 || !ok2 || o.Data["ca.crt"] != n.Data["ca.crt"] {
				c.enqueue()
			}
		},
		DeleteFunc: func(any) { c.enqueue() },
	}
}

// stripForCache is the informers' transform: managed fields are dropped
// from every object, and Secrets other than kubernetes.io/tls keep no data,
// so the cache holds no credentials Weir has no use for.
func stripForCache(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	switch v := obj.(type) {
	case *corev1.Secret:
		if v.Type != corev1.SecretTypeTLS {
			v.Data, v.StringData = nil, nil
		}
		delete(v.Annotations, corev1.LastAppliedConfigAnnotation)
	}
	return obj, nil
}

// ingressTransform is the main factory's transform: stripForCache, and with
// --annotations-prefix, Ingress annotations under that prefix are renamed
// to nginx.ingress.kubernetes.io/ (those already under it are dropped, as
// ingress-nginx ignores them then), so everything downstream reads one
// prefix.
func ingressTransform(prefix string) cache.TransformFunc {
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix == "" || prefix+"/" == annotations.Prefix {
		return stripForCache
	}
	return func(obj any) (any, error) {
		if ing, ok := obj.(*networkingv1.Ingress); ok && len(ing.Annotations) > 0 {
			out := make(map[string]string, len(ing.Annotations))
			for k, v := range ing.Annotations {
				if name, ok := strings.CutPrefix(k, prefix+"/"); ok {
					out[annotations.Prefix+name] = v
				} else if !strings.HasPrefix(k, annotations.Prefix) {
					out[k] = v
				}
			}
			ing.Annotations = out
		}
		return stripForCache(obj)
	}
}

// selected keeps the Ingresses of the namespaces --watch-namespace-selector
// selects (all without it).
func (l *listers) selected(ings []*networkingv1.Ingress) ([]*networkingv1.Ingress, error) {
	if l.nsSelector == nil {
		return ings, nil
	}
	nss := l.factory.Core().V1().Namespaces().Lister()
	out := ings[:0:0]
	for _, ing := range ings {
		ns, err := nss.Get(ing.Namespace)
		if err != nil {
			continue // a namespace not (yet) seen matches nothing
		}
		if l.nsSelector.Matches(labels.Set(ns.Labels)) {
			out = append(out, ing)
		}
	}
	return out, nil
}

// ingresses gets the named Ingresses ("namespace/name") from the cache:
// nil for one that is gone or outside --watch-namespace-selector.
func (l *listers) ingresses(keys map[string]bool) (map[string]*networkingv1.Ingress, error) {
	out := make(map[string]*networkingv1.Ingress, len(keys))
	lister := l.factory.Networking().V1().Ingresses().Lister()
	for key := range keys {
		ns, name, _ := strings.Cut(key, "/")
		ing, err := lister.Ingresses(ns).Get(name)
		if apierrors.IsNotFound(err) {
			out[key] = nil
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("getting ingress %s: %w", key, err)
		}
		sel, err := l.selected([]*networkingv1.Ingress{ing})
		if err != nil {
			return nil, err
		}
		out[key] = nil
		if len(sel) == 1 {
			out[key] = ing
		}
	}
	return out, nil
}

// endpointInputs lists the named Services ("namespace/name") and their
// EndpointSlices, for the endpoint-only fast path.
func (l *listers) endpointInputs(services map[string]bool) (*translate.Inputs, error) {
	in := &translate.Inputs{}
	f := l.factory
	for key := range services {
		ns, name, _ := strings.Cut(key, "/")
		svc, err := f.Core().V1().Services().Lister().Services(ns).Get(name)
		if err != nil {
			return nil, fmt.Errorf("getting service %s: %w", key, err)
		}
		in.Services = append(in.Services, svc)
		sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name})
		slices, err := f.Discovery().V1().EndpointSlices().Lister().EndpointSlices(ns).List(sel)
		if err != nil {
			return nil, fmt.Errorf("listing endpoint slices of %s: %w", key, err)
		}
		in.EndpointSlices = append(in.EndpointSlices, slices...)
	}
	return in, nil
}
