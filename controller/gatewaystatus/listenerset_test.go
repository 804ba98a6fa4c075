package gatewaystatus

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"weir.dev/weir/controller/translate"
)

// A ListenerSet's status is written with its listeners, keeps a
// condition's lastTransitionTime while its status stays, and is not
// written again when nothing changed.
func TestListenerSetStatus(t *testing.T) {
	ls := &gatewayv1.ListenerSet{ObjectMeta: metav1.ObjectMeta{Name: "extra", Namespace: "apps", Generation: 3},
		Status: gatewayv1.ListenerSetStatus{Conditions: []metav1.Condition{
			{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: 2, LastTransitionTime: t0}}}}
	w := newWorld(t, ls)
	want := translate.ListenerSetStatus{Namespace: "apps", Name: "extra", Generation: 3, Status: gatewayv1.ListenerSetStatus{
		Conditions: []metav1.Condition{cond("Accepted", metav1.ConditionTrue, "Accepted", 3), cond("Programmed", metav1.ConditionTrue, "Programmed", 3)},
		Listeners: []gatewayv1.ListenerEntryStatus{{Name: "one", AttachedRoutes: 2, SupportedKinds: []gatewayv1.RouteGroupKind{{Kind: "HTTPRoute"}},
			Conditions: []metav1.Condition{cond("Accepted", metav1.ConditionTrue, "Accepted", 3)}}},
	}}
	res := &translate.Result{ListenerSets: []translate.ListenerSetStatus{want}}
	require.NoError(t, w.writer.Sync(context.Background(), res, w.listers, nil))
	require.Equal(t, 1, w.updates())

	got, err := w.client.GatewayV1().ListenerSets("apps").Get(context.Background(), "extra", metav1.GetOptions{})
	require.NoError(t, err)
	require.Len(t, got.Status.Conditions, 2)
	assert.Equal(t, t0, got.Status.Conditions[0].LastTransitionTime, "Accepted stayed True")
	assert.Equal(t, int64(3), got.Status.Conditions[0].ObservedGeneration)
	assert.Equal(t, t1, got.Status.Conditions[1].LastTransitionTime)
	require.Len(t, got.Status.Listeners, 1)
	assert.Equal(t, int32(2), got.Status.Listeners[0].AttachedRoutes)

	w2 := newWorld(t, got)
	require.NoError(t, w2.writer.Sync(context.Background(), res, w2.listers, nil))
	assert.Zero(t, w2.updates(), "nothing changed")
}
