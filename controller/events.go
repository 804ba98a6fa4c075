package controller

import (
	"context"
	"fmt"
	"strings"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"weir.dev/weir/controller/translate"
)

// eventDeduper remembers the problems already reported, so that a problem
// gives one Event and one log line when it appears, not one per rebuild.
type eventDeduper struct {
	seen map[string]bool
}

func newEventDeduper() *eventDeduper { return &eventDeduper{seen: make(map[string]bool)} }

func problemKey(p translate.Problem) string {
	return strings.Join([]string{p.Object.String(), p.Field, p.Reason, p.Message}, "\x00")
}

// fresh returns the problems not reported before and forgets the ones that
// are gone, so they are reported again if they come back.
func (d *eventDeduper) fresh(ps []translate.Problem) []translate.Problem {
	now := make(map[string]bool, len(ps))
	var out []translate.Problem
	for _, p := range ps {
		k := problemKey(p)
		now[k] = true
		if !d.seen[k] {
			out = append(out, p)
		}
	}
	d.seen = now
	return out
}

// report turns problems into metrics (all of them), and log lines and
// Events (new ones only).
func (c *Controller) report(ps []translate.Problem) {
	c.metrics.setProblems(ps)
	for _, p := range c.events.fresh(ps) {
		fields := []zap.Field{zap.String("kind", p.Object.Kind), zap.String("namespace", p.Object.Namespace),
			zap.String("name", p.Object.Name), zap.String("field", p.Field), zap.String("reason", p.Reason),
			zap.String("severity", string(p.Severity))}
		c.log.Warn(p.Message, fields...)
		if c.recorder == nil {
			continue
		}
		if obj := c.objectFor(p.Object); obj != nil {
			c.recorder.Event(obj, corev1.EventTypeWarning, p.Reason, eventMessage(p))
		}
	}
}

func eventMessage(p translate.Problem) string {
	if p.Field == "" {
		return p.Message
	}
	return fmt.Sprintf("%s: %s", p.Field, p.Message)
}

// objectFor finds the cached object a problem is about.
func (c *Controller) objectFor(ref translate.ObjectRef) runtime.Object {
	switch ref.Kind {
	case "Ingress":
		ing, err := c.factory.Networking().V1().Ingresses().Lister().Ingresses(ref.Namespace).Get(ref.Name)
		if err == nil {
			return ing
		}
	case "Service":
		svc, err := c.factory.Core().V1().Services().Lister().Services(ref.Namespace).Get(ref.Name)
		if err == nil {
			return svc
		}
	case "ConfigMap":
		if c.global != nil {
			cm, err := c.global.factory.Core().V1().ConfigMaps().Lister().ConfigMaps(ref.Namespace).Get(ref.Name)
			if err == nil {
				return cm
			}
		}
	default:
		return c.gatewayObjectFor(ref)
	}
	return nil
}

// gatewayObjectFor finds the cached Gateway API object a problem is about.
func (c *Controller) gatewayObjectFor(ref translate.ObjectRef) runtime.Object {
	if c.gw == nil {
		return nil
	}
	f := c.gw.lister()
	if f == nil {
		return nil
	}
	v1 := f.Gateway().V1()
	var obj runtime.Object
	var err error
	switch ref.Kind {
	case "GatewayClass":
		obj, err = v1.GatewayClasses().Lister().Get(ref.Name)
	case "Gateway":
		obj, err = v1.Gateways().Lister().Gateways(ref.Namespace).Get(ref.Name)
	case "HTTPRoute":
		obj, err = v1.HTTPRoutes().Lister().HTTPRoutes(ref.Namespace).Get(ref.Name)
	case "GRPCRoute":
		obj, err = v1.GRPCRoutes().Lister().GRPCRoutes(ref.Namespace).Get(ref.Name)
	default:
		return nil
	}
	if err != nil {
		return nil
	}
	return obj
}

// eventScheme knows client-go's kinds and the Gateway API's, so Events can
// name Gateway API objects.
var eventScheme = func() func() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{scheme.AddToScheme, gatewayv1.Install} {
		if err := add(s); err != nil {
			panic(fmt.Sprintf("building the event scheme: %v", err)) // programming error, caught by every test
		}
	}
	return func() *runtime.Scheme { return s }
}()

// eventSink writes Events through the core/v1 API.
type eventSink struct{ client kubernetes.Interface }

func (s *eventSink) events(ns string) typedcorev1.EventInterface { return s.client.CoreV1().Events(ns) }

func (s *eventSink) Create(e *corev1.Event) (*corev1.Event, error) {
	return s.events(e.Namespace).Create(context.Background(), e, metav1.CreateOptions{})
}

func (s *eventSink) Update(e *corev1.Event) (*corev1.Event, error) {
	return s.events(e.Namespace).Update(context.Background(), e, metav1.UpdateOptions{})
}

func (s *eventSink) Patch(old *corev1.Event, data []byte) (*corev1.Event, error) {
	return s.events(old.Namespace).Patch(context.Background(), old.Name, "application/strategic-merge-patch+json", data, metav1.PatchOptions{})
}
