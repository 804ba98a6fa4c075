// Package gatewaystatus writes the Gateway API status that translation
// computed (controller/translate: GatewayClassStatus, GatewayStatus,
// RouteStatus) to the API server. It decides nothing itself: it adds the
// addresses the controller knows to each Gateway, keeps each condition's
// lastTransitionTime when its status did not change, keeps other
// controllers' route parents and drops Weir's stale ones
// (translate.MergeRouteParents), and writes an object only when what it
// holds differs, ignoring lastTransitionTime. A write that conflicts is
// retried on the object read afresh. It runs on the leader only.
//
// Status computed for an older generation than the cache holds is not
// written: the rebuild for the newer one is on its way.
package gatewaystatus

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"
	gatewaylisters "sigs.k8s.io/gateway-api/pkg/client/listers/apis/v1"

	"weir.dev/weir/controller/translate"
)

// Listers read the cached objects.
type Listers struct {
	GatewayClasses gatewaylisters.GatewayClassLister
	Gateways       gatewaylisters.GatewayLister
	HTTPRoutes     gatewaylisters.HTTPRouteLister // nil when not installed
	GRPCRoutes     gatewaylisters.GRPCRouteLister // nil when not installed
	// BackendTLSPolicies is nil when not installed.
	BackendTLSPolicies gatewaylisters.BackendTLSPolicyLister
	// ListenerSets is nil when not installed.
	ListenerSets gatewaylisters.ListenerSetLister
}

// Addresses returns a Gateway's addresses and, when spec.addresses could
// not be honoured, why (see translate.GatewayStatus.WithAddresses).
type Addresses func(gw *gatewayv1.Gateway) ([]gatewayv1.GatewayStatusAddress, string)

// Writer writes Gateway API status.
type Writer struct {
	client     gatewayclient.Interface
	controller string
	log        *zap.Logger
	// Now stamps lastTransitionTime (default metav1.Now).
	Now func() metav1.Time
}

// New returns a Writer for the GatewayClass controllerName controller.
func New(client gatewayclient.Interface, controller string, log *zap.Logger) *Writer {
	if log == nil {
		log = zap.NewNop()
	}
	return &Writer{client: client, controller: controller, log: log, Now: metav1.Now}
}

// Sync writes every status in res that differs from the cached object.
// Errors are logged and returned joined; the next Sync tries again.
func (w *Writer) Sync(ctx context.Context, res *translate.Result, l Listers, addrs Addresses) error {
	var errs []error
	for _, cs := range res.GatewayClasses {
		errs = append(errs, w.gatewayClass(ctx, l, cs))
	}
	for _, gs := range res.Gateways {
		errs = append(errs, w.gateway(ctx, l, gs, addrs))
	}
	for _, rs := range res.Routes {
		errs = append(errs, w.route(ctx, l, rs))
	}
	errs = append(errs, w.policies(ctx, l, res.BackendTLSPolicies)...)
	for _, ss := range res.ListenerSets {
		errs = append(errs, w.listenerSet(ctx, l, ss))
	}
	err := errors.Join(errs...)
	if err != nil {
		w.log.Warn("writing Gateway API status", zap.Error(err))
	}
	return err
}

// write applies change to the cached object and updates it when change
// says it differs; on a conflict it reads the object again and retries.
func write[T any](ctx context.Context, cached T, get func(context.Context) (T, error), change func(T) (T, bool),
	update func(context.Context, T) error) error {
	obj := cached
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		up, changed := change(obj)
		if !changed {
			return nil
		}
		err := update(ctx, up)
		if apierrors.IsConflict(err) {
			fresh, gerr := get(ctx)
			if gerr != nil {
				return gerr
			}
			obj = fresh
		}
		return err
	})
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func (w *Writer) gatewayClass(ctx context.Context, l Listers, cs translate.GatewayClassStatus) error {
	cached, err := l.GatewayClasses.Get(cs.Name)
	if err != nil || cached.Generation != cs.Generation {
		return nil
	}
	api := w.client.GatewayV1().GatewayClasses()
	err = write(ctx, cached,
		func(ctx context.Context) (*gatewayv1.GatewayClass, error) {
			return api.Get(ctx, cs.Name, metav1.GetOptions{})
		},
		func(cur *gatewayv1.GatewayClass) (*gatewayv1.GatewayClass, bool) {
			if cur.Generation != cs.Generation || (translate.ConditionsEqual(cur.Status.Conditions, cs.Status.Conditions) &&
				featuresEqual(cur.Status.SupportedFeatures, cs.Status.SupportedFeatures)) {
				return nil, false
			}
			up := cur.DeepCopy()
			up.Status.Conditions = translate.MergeConditions(cur.Status.Conditions, cs.Status.Conditions, w.Now())
			up.Status.SupportedFeatures = cs.Status.SupportedFeatures
			return up, true
		},
		func(ctx context.Context, up *gatewayv1.GatewayClass) error {
			_, err := api.UpdateStatus(ctx, up, metav1.UpdateOptions{})
			return err
		})
	if err = ignoreNotFound(err); err != nil {
		return fmt.Errorf("GatewayClass %s: %w", cs.Name, err)
	}
	return nil
}

func (w *Writer) gateway(ctx context.Context, l Listers, gs translate.GatewayStatus, addrs Addresses) error {
	cached, err := l.Gateways.Gateways(gs.Namespace).Get(gs.Name)
	if err != nil || cached.Generation != gs.Generation {
		return nil
	}
	want := gs.Status
	if addrs != nil {
		want = gs.WithAddresses(addrs(cached))
	}
	api := w.client.GatewayV1().Gateways(gs.Namespace)
	err = write(ctx, cached,
		func(ctx context.Context) (*gatewayv1.Gateway, error) {
			return api.Get(ctx, gs.Name, metav1.GetOptions{})
		},
		func(cur *gatewayv1.Gateway) (*gatewayv1.Gateway, bool) {
			if cur.Generation != gs.Generation || gatewayStatusEqual(cur.Status, want) {
				return nil, false
			}
			up := cur.DeepCopy()
			up.Status = mergeGatewayStatus(cur.Status, want, w.Now())
			return up, true
		},
		func(ctx context.Context, up *gatewayv1.Gateway) error {
			_, err := api.UpdateStatus(ctx, up, metav1.UpdateOptions{})
			return err
		})
	if err = ignoreNotFound(err); err != nil {
		return fmt.Errorf("Gateway %s/%s: %w", gs.Namespace, gs.Name, err)
	}
	return nil
}

func (w *Writer) route(ctx context.Context, l Listers, rs translate.RouteStatus) error {
	var err error
	switch {
	case rs.Kind == "HTTPRoute" && l.HTTPRoutes != nil:
		api := w.client.GatewayV1().HTTPRoutes(rs.Namespace)
		err = writeRoute(ctx, w, rs, routeAccess[*gatewayv1.HTTPRoute]{
			cached: func() (*gatewayv1.HTTPRoute, error) { return l.HTTPRoutes.HTTPRoutes(rs.Namespace).Get(rs.Name) },
			get: func(ctx context.Context) (*gatewayv1.HTTPRoute, error) {
				return api.Get(ctx, rs.Name, metav1.GetOptions{})
			},
			status: func(r *gatewayv1.HTTPRoute) *gatewayv1.RouteStatus { return &r.Status.RouteStatus },
			copy:   (*gatewayv1.HTTPRoute).DeepCopy,
			update: func(ctx context.Context, r *gatewayv1.HTTPRoute) error {
				_, err := api.UpdateStatus(ctx, r, metav1.UpdateOptions{})
				return err
			},
		})
	case rs.Kind == "GRPCRoute" && l.GRPCRoutes != nil:
		api := w.client.GatewayV1().GRPCRoutes(rs.Namespace)
		err = writeRoute(ctx, w, rs, routeAccess[*gatewayv1.GRPCRoute]{
			cached: func() (*gatewayv1.GRPCRoute, error) { return l.GRPCRoutes.GRPCRoutes(rs.Namespace).Get(rs.Name) },
			get: func(ctx context.Context) (*gatewayv1.GRPCRoute, error) {
				return api.Get(ctx, rs.Name, metav1.GetOptions{})
			},
			status: func(r *gatewayv1.GRPCRoute) *gatewayv1.RouteStatus { return &r.Status.RouteStatus },
			copy:   (*gatewayv1.GRPCRoute).DeepCopy,
			update: func(ctx context.Context, r *gatewayv1.GRPCRoute) error {
				_, err := api.UpdateStatus(ctx, r, metav1.UpdateOptions{})
				return err
			},
		})
	}
	if err = ignoreNotFound(err); err != nil {
		return fmt.Errorf("%s %s/%s: %w", rs.Kind, rs.Namespace, rs.Name, err)
	}
	return nil
}

// routeAccess is how writeRoute reads and writes one route kind.
type routeAccess[T metav1.Object] struct {
	cached func() (T, error)
	get    func(context.Context) (T, error)
	status func(T) *gatewayv1.RouteStatus
	copy   func(T) T
	update func(context.Context, T) error
}

func writeRoute[T metav1.Object](ctx context.Context, w *Writer, rs translate.RouteStatus, a routeAccess[T]) error {
	cached, err := a.cached()
	if err != nil || cached.GetGeneration() != rs.Generation {
		return nil
	}
	return write(ctx, cached, a.get, func(cur T) (T, bool) {
		parents, changed := w.parents(cur.GetGeneration(), a.status(cur).Parents, rs)
		if !changed {
			var none T
			return none, false
		}
		up := a.copy(cur)
		a.status(up).Parents = parents
		return up, true
	}, a.update)
}

// parents returns a route's new status.parents and whether it differs
// from cur (nothing is written for a generation translation did not see).
func (w *Writer) parents(generation int64, cur []gatewayv1.RouteParentStatus, rs translate.RouteStatus) ([]gatewayv1.RouteParentStatus, bool) {
	if generation != rs.Generation {
		return nil, false
	}
	now := w.Now()
	ours := make([]gatewayv1.RouteParentStatus, len(rs.Parents))
	for i, p := range rs.Parents {
		p = *p.DeepCopy()
		var existing []metav1.Condition
		if old := w.findParent(cur, p.ParentRef); old != nil {
			existing = old.Conditions
		}
		p.Conditions = translate.MergeConditions(existing, p.Conditions, now)
		ours[i] = p
	}
	next := translate.MergeRouteParents(cur, ours, w.controller)
	return next, !parentsEqual(cur, next)
}
