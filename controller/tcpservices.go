package controller

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"

	"weir.dev/weir/controller/translate"
)

// tcpServices follows the --tcp-services-configmap and
// --udp-services-configmap ConfigMaps, each with its own informer limited
// to its namespace and name (the Role grants that one ConfigMap by
// resourceName). Their entries are translated with the rest
// (controller/translate/tcpservices.go); a change rebuilds. In offline mode
// (controller/offline) the ConfigMaps come from the files; the fake
// clientset there ignores field selectors, so the informer also caches the
// namespace's other ConfigMaps and rebuilds on their changes, which costs a
// rebuild and changes nothing: ConfigMaps are read by name.
type tcpServices struct {
	watched []*watchedConfigMap
}

type watchedConfigMap struct {
	ns, name string
	factory  informers.SharedInformerFactory
	set      func(in *translate.Inputs, cm *corev1.ConfigMap)
}

// newTCPServices prepares the informers of the TCP and UDP services
// ConfigMaps ("namespace/name" each; "" for none; nil when both are none)
// and rebuilds on each of their changes.
func (c *Controller) newTCPServices(tcp, udp string) (*tcpServices, error) {
	s := &tcpServices{}
	for _, w := range []struct {
		flag, ref string
		set       func(*translate.Inputs, *corev1.ConfigMap)
	}{
		{"tcp-services-configmap", tcp, func(in *translate.Inputs, cm *corev1.ConfigMap) { in.TCPServices = cm }},
		{"udp-services-configmap", udp, func(in *translate.Inputs, cm *corev1.ConfigMap) { in.UDPServices = cm }},
	} {
		if w.ref == "" {
			continue
		}
		ns, name, ok := strings.Cut(w.ref, "/")
		if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
			return nil, fmt.Errorf("--%s %q: want namespace/name", w.flag, w.ref)
		}
		f := informers.NewSharedInformerFactoryWithOptions(c.client, 0, informers.WithNamespace(ns),
			informers.WithTransform(stripForCache),
			informers.WithTweakListOptions(func(o *metav1.ListOptions) {
				o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
			}))
		// Not waited for at start, like the global ConfigMap: a ConfigMap
		// Weir may not read yet must not keep the HTTP side unready.
		if _, err := f.Core().V1().ConfigMaps().Informer().AddEventHandler(c.handler()); err != nil {
			return nil, fmt.Errorf("adding an event handler: %w", err)
		}
		s.watched = append(s.watched, &watchedConfigMap{ns: ns, name: name, factory: f, set: w.set})
	}
	if len(s.watched) == 0 {
		return nil, nil
	}
	return s, nil
}

// start runs the informers until ctx ends.
func (s *tcpServices) start(ctx context.Context) {
	if s == nil {
		return
	}
	for _, w := range s.watched {
		w.factory.Start(ctx.Done())
		go func() {
			<-ctx.Done()
			w.factory.Shutdown()
		}()
	}
}

func (w *watchedConfigMap) get() *corev1.ConfigMap {
	cm, err := w.factory.Core().V1().ConfigMaps().Lister().ConfigMaps(w.ns).Get(w.name)
	if err != nil {
		return nil
	}
	return cm
}

// addInputs gives translation the cached ConfigMaps (none while missing or
// not yet listed: no such service is served then).
func (s *tcpServices) addInputs(in *translate.Inputs) {
	if s == nil {
		return
	}
	for _, w := range s.watched {
		if cm := w.get(); cm != nil {
			w.set(in, cm)
		}
	}
}

// object is the ConfigMap a problem names, for its Event (nil when the
// problem is about another object).
func (s *tcpServices) object(ref translate.ObjectRef) runtime.Object {
	if s == nil {
		return nil
	}
	for _, w := range s.watched {
		if ref.Namespace == w.ns && ref.Name == w.name {
			if cm := w.get(); cm != nil {
				return cm
			}
		}
	}
	return nil
}
