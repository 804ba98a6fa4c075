package translate

import (
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// The controller's side of the status contract (gateway.go): pure helpers
// that put addresses into a computed Gateway status and merge computed
// status into what the API server holds. They decide nothing about
// ownership.

// WithAddresses returns the Gateway's status with the addresses the
// controller assigned (from its LoadBalancer Service). With none, Programmed
// becomes False with reason AddressNotAssigned; unusable (non-empty) says
// why spec.addresses could not be honoured and makes Programmed False with
// reason AddressNotUsable. Listener entries are unchanged: a listener is
// programmed on Weir's side whether or not the load balancer has an address
// yet. s is not modified.
func (s GatewayStatus) WithAddresses(addrs []gatewayv1.GatewayStatusAddress, unusable string) gatewayv1.GatewayStatus {
	st := *s.Status.DeepCopy()
	st.Addresses = append([]gatewayv1.GatewayStatusAddress(nil), addrs...)
	prog := meta.FindStatusCondition(st.Conditions, string(gatewayv1.GatewayConditionProgrammed))
	if prog == nil || prog.Status != metav1.ConditionTrue {
		return st
	}
	switch {
	case unusable != "":
		prog.Status, prog.Reason, prog.Message = metav1.ConditionFalse, string(gatewayv1.GatewayReasonAddressNotUsable), unusable
	case len(addrs) == 0:
		prog.Status, prog.Reason = metav1.ConditionFalse, string(gatewayv1.GatewayReasonAddressNotAssigned)
		prog.Message = "waiting for the load balancer to assign an address"
	}
	return st
}

// MergeRouteParents returns a route's status.parents with Weir's entries
// (those whose controllerName is controller) replaced by ours, keeping
// other controllers' entries in place. Ours come after the kept ones, in
// the order translation listed them.
func MergeRouteParents(existing, ours []gatewayv1.RouteParentStatus, controller string) []gatewayv1.RouteParentStatus {
	out := make([]gatewayv1.RouteParentStatus, 0, len(existing)+len(ours))
	for _, p := range existing {
		if string(p.ControllerName) != controller {
			out = append(out, p)
		}
	}
	return append(out, ours...)
}

// MergeConditions returns computed with each condition's
// lastTransitionTime taken from the existing condition of the same type
// when its status is unchanged, and now otherwise.
func MergeConditions(existing, computed []metav1.Condition, now metav1.Time) []metav1.Condition {
	out := make([]metav1.Condition, len(computed))
	for i, c := range computed {
		c.LastTransitionTime = now
		if old := meta.FindStatusCondition(existing, c.Type); old != nil && old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		out[i] = c
	}
	return out
}

// ConditionsEqual reports whether two condition lists say the same thing,
// ignoring lastTransitionTime: the controller writes status only when this
// is false for some condition list (or another status field changed).
func ConditionsEqual(a, b []metav1.Condition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		x.LastTransitionTime, y.LastTransitionTime = metav1.Time{}, metav1.Time{}
		if !equality.Semantic.DeepEqual(x, y) {
			return false
		}
	}
	return true
}
