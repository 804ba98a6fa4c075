package controller

import (
	"context"
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"

	"weir.dev/weir/controller/translate"
)

// tcpServices follows the --tcp-services-configmap ConfigMap with its own
// informer, limited to that namespace and name (the Role grants that one
// ConfigMap by resourceName). Its entries are translated with the rest
// (controller/translate/tcpservices.go); a change rebuilds.
type tcpServices struct {
	ns, name string
	factory  informers.SharedInformerFactory
}

// newTCPServices prepares the informer of ref ("namespace/name"; "" for
// none, which returns nil) and rebuilds on each of its changes.
func (c *Controller) newTCPServices(ref string) (*tcpServices, error) {
	if ref == "" {
		return nil, nil
	}
	ns, name, ok := strings.Cut(ref, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("--tcp-services-configmap %q: want namespace/name", ref)
	}
	s := &tcpServices{ns: ns, name: name}
	s.factory = informers.NewSharedInformerFactoryWithOptions(c.client, 0, informers.WithNamespace(ns),
		informers.WithTransform(stripForCache),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		}))
	// Not waited for at start, like the global ConfigMap: a ConfigMap Weir
	// may not read yet must not keep the HTTP side unready.
	if _, err := s.factory.Core().V1().ConfigMaps().Informer().AddEventHandler(c.handler()); err != nil {
		return nil, fmt.Errorf("adding an event handler: %w", err)
	}
	return s, nil
}

// start runs the informer until ctx ends.
func (s *tcpServices) start(ctx context.Context) {
	if s == nil {
		return
	}
	s.factory.Start(ctx.Done())
	go func() {
		<-ctx.Done()
		s.factory.Shutdown()
	}()
}

// addInputs gives translation the cached ConfigMap (none while it is
// missing or not yet listed: no TCP service is served then).
func (s *tcpServices) addInputs(in *translate.Inputs) {
	if s == nil {
		return
	}
	cm, err := s.factory.Core().V1().ConfigMaps().Lister().ConfigMaps(s.ns).Get(s.name)
	if err == nil {
		in.TCPServices = cm
	}
}

// object is the ConfigMap a problem names, for its Event (nil when the
// problem is about another object).
func (s *tcpServices) object(ref translate.ObjectRef) runtime.Object {
	if s == nil || ref.Namespace != s.ns || ref.Name != s.name {
		return nil
	}
	cm, err := s.factory.Core().V1().ConfigMaps().Lister().ConfigMaps(s.ns).Get(s.name)
	if err != nil {
		return nil
	}
	return cm
}
