package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"weir.dev/weir/controller/translate"
)

// eventDeduper remembers the problems already reported, so that a problem
// gives one log line (and, on the leader, one Event) when it appears, not
// one per rebuild.
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

// problemEvents turns problems into Warning Events through client-go's
// broadcaster (tools/record), which names them, merges repeats into a count,
// aggregates bursts of similar Events and rate-limits each object's Events
// before writing them with the core/v1 API (client-go's EventSinkImpl).
//
// Every replica computes the same problems, so only one emits Events: the
// replica holding the election Lease (see leaderWork), or the only one when
// nothing is elected (no status writing). A new leader reports the problems
// present when it takes over once more: a problem never goes unreported in
// a hand-over, at the price of one repeated Event per problem per leader
// change.
type problemEvents struct {
	broadcast record.EventBroadcaster
	recorder  record.EventRecorder

	mu      sync.Mutex
	current []translate.Problem // the newest build's problems
	term    <-chan struct{}     // Done of the leadership term emitted lately
	emitted *eventDeduper       // what this term has emitted
}

func newProblemEvents() *problemEvents {
	b := record.NewBroadcaster()
	return &problemEvents{broadcast: b, recorder: b.NewRecorder(eventScheme(), corev1.EventSource{Component: "weir"}),
		emitted: newEventDeduper()}
}

// start writes the recorded Events through client until Shutdown.
func (e *problemEvents) start(client kubernetes.Interface) {
	e.broadcast.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
}

// set keeps the newest build's problems for the next emit.
func (e *problemEvents) set(ps []translate.Problem) {
	e.mu.Lock()
	e.current = ps
	e.mu.Unlock()
}

// emit records an Event for each current problem this term has not
// emitted; a term is one leadership (the Done channel of its context), or
// the whole run when term is nil. A new term starts with nothing emitted.
func (e *problemEvents) emit(term <-chan struct{}, objectFor func(translate.ObjectRef) runtime.Object) {
	e.mu.Lock()
	if term != e.term {
		e.term, e.emitted = term, newEventDeduper()
	}
	fresh := e.emitted.fresh(e.current)
	e.mu.Unlock()
	for _, p := range fresh {
		if obj := objectFor(p.Object); obj != nil {
			e.recorder.Event(obj, corev1.EventTypeWarning, p.Reason, eventMessage(p))
		}
	}
}

// report turns problems into metrics (all of them), log lines (new ones
// only, on every replica) and Events (new ones only, on one replica).
func (c *Controller) report(ps []translate.Problem) {
	c.metrics.setProblems(ps)
	for _, p := range c.logged.fresh(ps) {
		fields := []zap.Field{zap.String("kind", p.Object.Kind), zap.String("namespace", p.Object.Namespace),
			zap.String("name", p.Object.Name), zap.String("field", p.Field), zap.String("reason", p.Reason),
			zap.String("severity", string(p.Severity))}
		c.log.Warn(p.Message, fields...)
	}
	if c.events == nil {
		return
	}
	c.events.set(ps)
	if c.status == nil {
		c.events.emit(nil, c.objectFor) // nothing is elected: this replica is the only one
		return
	}
	c.status.Poke() // the leader emits (leaderWork)
}

// leaderWork is the work of the replica holding the Lease, after each of
// its Ingress status passes: Events, then the Gateway API side.
func (c *Controller) leaderWork(ctx context.Context) {
	if c.events != nil {
		c.events.emit(ctx.Done(), c.objectFor)
	}
	if c.gw != nil {
		c.leadGateways(ctx)
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
		if cm := c.tcp.object(ref); cm != nil {
			return cm
		}
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
