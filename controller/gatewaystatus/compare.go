package gatewaystatus

import (
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"weir.dev/weir/controller/translate"
)

// Comparisons ignore lastTransitionTime, which translation leaves zero.

func featuresEqual(a, b []gatewayv1.SupportedFeature) bool {
	return len(a) == len(b) && (len(a) == 0 || equality.Semantic.DeepEqual(a, b))
}

func gatewayStatusEqual(cur, want gatewayv1.GatewayStatus) bool {
	if !translate.ConditionsEqual(cur.Conditions, want.Conditions) || len(cur.Listeners) != len(want.Listeners) ||
		derefInt(cur.AttachedListenerSets) != derefInt(want.AttachedListenerSets) ||
		len(cur.Addresses) != len(want.Addresses) || (len(cur.Addresses) > 0 && !equality.Semantic.DeepEqual(cur.Addresses, want.Addresses)) {
		return false
	}
	for i := range want.Listeners {
		c, w := cur.Listeners[i], want.Listeners[i]
		if c.Name != w.Name || c.AttachedRoutes != w.AttachedRoutes || !kindsEqual(c.SupportedKinds, w.SupportedKinds) ||
			!translate.ConditionsEqual(c.Conditions, w.Conditions) {
			return false
		}
	}
	return true
}

func derefInt(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func kindsEqual(a, b []gatewayv1.RouteGroupKind) bool {
	return len(a) == len(b) && (len(a) == 0 || equality.Semantic.DeepEqual(a, b))
}

// mergeGatewayStatus is want with lastTransitionTime kept from cur where a
// condition's status did not change (listeners matched by name).
func mergeGatewayStatus(cur, want gatewayv1.GatewayStatus, now metav1.Time) gatewayv1.GatewayStatus {
	out := *want.DeepCopy()
	out.Conditions = translate.MergeConditions(cur.Conditions, want.Conditions, now)
	for i, l := range out.Listeners {
		var existing []metav1.Condition
		for _, c := range cur.Listeners {
			if c.Name == l.Name {
				existing = c.Conditions
				break
			}
		}
		out.Listeners[i].Conditions = translate.MergeConditions(existing, l.Conditions, now)
	}
	return out
}

// findParent is Weir's entry for ref in a route's status.parents.
func (w *Writer) findParent(parents []gatewayv1.RouteParentStatus, ref gatewayv1.ParentReference) *gatewayv1.RouteParentStatus {
	for i := range parents {
		p := &parents[i]
		if string(p.ControllerName) == w.controller && equality.Semantic.DeepEqual(p.ParentRef, ref) {
			return p
		}
	}
	return nil
}

func parentsEqual(a, b []gatewayv1.RouteParentStatus) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ControllerName != b[i].ControllerName || !equality.Semantic.DeepEqual(a[i].ParentRef, b[i].ParentRef) ||
			!translate.ConditionsEqual(a[i].Conditions, b[i].Conditions) {
			return false
		}
	}
	return true
}
