package translate_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	. "weir.dev/weir/controller/translate"
)

func programmed(st gatewayv1.GatewayStatus) metav1.Condition {
	for _, c := range st.Conditions {
		if c.Type == "Programmed" {
			return c
		}
	}
	return metav1.Condition{}
}

func TestWithAddresses(t *testing.T) {
	res := Translate(gatewayBenchInputs(1, 1), 1)
	require.Len(t, res.Gateways, 1)
	gs := res.Gateways[0]
	ip := []gatewayv1.GatewayStatusAddress{{Type: ptr.To(gatewayv1.IPAddressType), Value: "192.0.2.10"}}

	st := gs.WithAddresses(ip, "")
	assert.Equal(t, ip, st.Addresses)
	assert.Equal(t, "Programmed", programmed(st).Reason)
	assert.Equal(t, metav1.ConditionTrue, programmed(st).Status)

	st = gs.WithAddresses(nil, "")
	assert.Equal(t, "AddressNotAssigned", programmed(st).Reason)
	assert.Equal(t, metav1.ConditionFalse, programmed(st).Status)

	st = gs.WithAddresses(ip, "spec.addresses 203.0.113.1 is not in the load balancer's pool")
	assert.Equal(t, "AddressNotUsable", programmed(st).Reason)
	assert.Equal(t, "Programmed", programmed(gs.Status).Reason, "the computed status is not modified")
	assert.Nil(t, gs.Status.Addresses)
}

func TestMergeRouteParents(t *testing.T) {
	ours := func(name string) gatewayv1.RouteParentStatus {
		return gatewayv1.RouteParentStatus{ParentRef: gatewayv1.ParentReference{Name: gatewayv1.ObjectName(name)}, ControllerName: DefaultGatewayControllerName}
	}
	theirs := gatewayv1.RouteParentStatus{ParentRef: gatewayv1.ParentReference{Name: "x"}, ControllerName: "example.com/other"}
	got := MergeRouteParents([]gatewayv1.RouteParentStatus{ours("stale"), theirs, ours("kept")}, []gatewayv1.RouteParentStatus{ours("kept"), ours("new")}, DefaultGatewayControllerName)
	assert.Equal(t, []gatewayv1.RouteParentStatus{theirs, ours("kept"), ours("new")}, got)
	assert.Equal(t, []gatewayv1.RouteParentStatus{theirs}, MergeRouteParents([]gatewayv1.RouteParentStatus{ours("gone"), theirs}, nil, DefaultGatewayControllerName))
}

func TestMergeConditions(t *testing.T) {
	then := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	now := metav1.NewTime(then.Add(time.Hour))
	existing := []metav1.Condition{
		{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", LastTransitionTime: then, ObservedGeneration: 1},
		{Type: "Programmed", Status: metav1.ConditionTrue, Reason: "Programmed", LastTransitionTime: then, ObservedGeneration: 1},
	}
	computed := []metav1.Condition{
		{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: 2},
		{Type: "Programmed", Status: metav1.ConditionFalse, Reason: "Invalid", ObservedGeneration: 2},
		{Type: "ResolvedRefs", Status: metav1.ConditionTrue, Reason: "ResolvedRefs", ObservedGeneration: 2},
	}
	got := MergeConditions(existing, computed, now)
	assert.Equal(t, then, got[0].LastTransitionTime, "status unchanged keeps its time")
	assert.Equal(t, now, got[1].LastTransitionTime, "a transition gets now")
	assert.Equal(t, now, got[2].LastTransitionTime, "a new condition gets now")
	assert.EqualValues(t, 2, got[0].ObservedGeneration)
	assert.True(t, ConditionsEqual(got, MergeConditions(got, computed, metav1.NewTime(now.Add(time.Hour)))))
	assert.False(t, ConditionsEqual(existing, got))
}
