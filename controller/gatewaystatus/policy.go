package gatewaystatus

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"weir.dev/weir/controller/translate"
)

// policies writes the BackendTLSPolicy status translation computed: Weir's
// ancestor entries replace Weir's old ones, other controllers' stay. A
// cached policy that translation no longer lists loses Weir's entries.
func (w *Writer) policies(ctx context.Context, l Listers, list []translate.PolicyStatus) []error {
	if l.BackendTLSPolicies == nil {
		return nil
	}
	want := make(map[string]translate.PolicyStatus, len(list))
	for _, ps := range list {
		want[ps.Namespace+"/"+ps.Name] = ps
	}
	cached, err := l.BackendTLSPolicies.List(labels.Everything())
	if err != nil {
		return []error{fmt.Errorf("listing BackendTLSPolicies: %w", err)}
	}
	var errs []error
	for _, p := range cached {
		ps, listed := want[p.Namespace+"/"+p.Name]
		if !listed && !w.hasOurs(p.Status.Ancestors) {
			continue
		}
		if listed && p.Generation != ps.Generation {
			continue // the rebuild for the newer generation is on its way
		}
		errs = append(errs, w.policy(ctx, p, ps))
	}
	return errs
}

func (w *Writer) hasOurs(as []gatewayv1.PolicyAncestorStatus) bool {
	for _, a := range as {
		if string(a.ControllerName) == w.controller {
			return true
		}
	}
	return false
}

func (w *Writer) policy(ctx context.Context, cached *gatewayv1.BackendTLSPolicy, ps translate.PolicyStatus) error {
	api := w.client.GatewayV1().BackendTLSPolicies(cached.Namespace)
	err := write(ctx, cached,
		func(ctx context.Context) (*gatewayv1.BackendTLSPolicy, error) {
			return api.Get(ctx, cached.Name, metav1.GetOptions{})
		},
		func(cur *gatewayv1.BackendTLSPolicy) (*gatewayv1.BackendTLSPolicy, bool) {
			if ps.Name != "" && cur.Generation != ps.Generation {
				return nil, false
			}
			next := w.ancestors(cur.Status.Ancestors, ps.Ancestors)
			if ancestorsEqual(cur.Status.Ancestors, next) {
				return nil, false
			}
			up := cur.DeepCopy()
			up.Status.Ancestors = next
			return up, true
		},
		func(ctx context.Context, up *gatewayv1.BackendTLSPolicy) error {
			_, err := api.UpdateStatus(ctx, up, metav1.UpdateOptions{})
			return err
		})
	if err = ignoreNotFound(err); err != nil {
		return fmt.Errorf("BackendTLSPolicy %s/%s: %w", cached.Namespace, cached.Name, err)
	}
	return nil
}

// ancestors is cur with Weir's entries replaced by ours (their conditions'
// lastTransitionTime kept while the status stays).
func (w *Writer) ancestors(cur, ours []gatewayv1.PolicyAncestorStatus) []gatewayv1.PolicyAncestorStatus {
	now := w.Now()
	out := make([]gatewayv1.PolicyAncestorStatus, 0, len(cur)+len(ours))
	for _, a := range cur {
		if string(a.ControllerName) != w.controller {
			out = append(out, a)
		}
	}
	for _, a := range ours {
		a = *a.DeepCopy()
		var existing []metav1.Condition
		for _, old := range cur {
			if string(old.ControllerName) == w.controller && equality.Semantic.DeepEqual(old.AncestorRef, a.AncestorRef) {
				existing = old.Conditions
			}
		}
		a.Conditions = translate.MergeConditions(existing, a.Conditions, now)
		out = append(out, a)
	}
	return out
}

func ancestorsEqual(a, b []gatewayv1.PolicyAncestorStatus) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ControllerName != b[i].ControllerName || !equality.Semantic.DeepEqual(a[i].AncestorRef, b[i].AncestorRef) ||
			!translate.ConditionsEqual(a[i].Conditions, b[i].Conditions) {
			return false
		}
	}
	return true
}
