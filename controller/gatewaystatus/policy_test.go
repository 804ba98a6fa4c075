package gatewaystatus

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewaylisters "sigs.k8s.io/gateway-api/pkg/client/listers/apis/v1"

	"weir.dev/weir/controller/translate"
)

func ancestor(controller, gw string, conds ...metav1.Condition) gatewayv1.PolicyAncestorStatus {
	kind, ns := gatewayv1.Kind("Gateway"), gatewayv1.Namespace("apps")
	return gatewayv1.PolicyAncestorStatus{AncestorRef: gatewayv1.ParentReference{Kind: &kind, Namespace: &ns, Name: gatewayv1.ObjectName(gw)},
		ControllerName: gatewayv1.GatewayController(controller), Conditions: conds}
}

func policy(name string, gen int64, ancestors ...gatewayv1.PolicyAncestorStatus) *gatewayv1.BackendTLSPolicy {
	return &gatewayv1.BackendTLSPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "apps", Generation: gen},
		Status: gatewayv1.PolicyStatus{Ancestors: ancestors}}
}

func getPolicy(t *testing.T, w *world, name string) *gatewayv1.BackendTLSPolicy {
	t.Helper()
	p, err := w.client.GatewayV1().BackendTLSPolicies("apps").Get(context.Background(), name, metav1.GetOptions{})
	require.NoError(t, err)
	return p
}

// Weir's ancestor entries replace its old ones, another controller's stay;
// a policy translation no longer lists loses Weir's entries; a status
// computed for an older generation is not written.
func TestPolicyAncestors(t *testing.T) {
	accepted := metav1.Condition{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: 2, LastTransitionTime: t0}
	theirs := ancestor("example.com/other", "theirs", accepted)
	w := newWorld(t,
		policy("used", 2, theirs, ancestor(weir, "old", accepted)),
		policy("gone", 1, ancestor(weir, "old", accepted), theirs),
		policy("newer", 3))
	want := ancestor(weir, "web",
		metav1.Condition{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: 2},
		metav1.Condition{Type: "ResolvedRefs", Status: metav1.ConditionTrue, Reason: "ResolvedRefs", ObservedGeneration: 2})
	res := &translate.Result{BackendTLSPolicies: []translate.PolicyStatus{
		{Namespace: "apps", Name: "used", Generation: 2, Ancestors: []gatewayv1.PolicyAncestorStatus{want}},
		{Namespace: "apps", Name: "newer", Generation: 2, Ancestors: []gatewayv1.PolicyAncestorStatus{want}},
	}}
	require.NoError(t, w.writer.Sync(context.Background(), res, w.listers, nil))

	used := getPolicy(t, w, "used").Status.Ancestors
	require.Len(t, used, 2)
	assert.Equal(t, theirs, used[0], "another controller's entry stays")
	assert.Equal(t, gatewayv1.ObjectName("web"), used[1].AncestorRef.Name, "Weir's stale entry replaced")
	assert.Equal(t, t1, used[1].Conditions[0].LastTransitionTime)
	assert.Equal(t, []gatewayv1.PolicyAncestorStatus{theirs}, getPolicy(t, w, "gone").Status.Ancestors)
	assert.Empty(t, getPolicy(t, w, "newer").Status.Ancestors, "computed for generation 2, the policy is at 3")

	writes := len(w.client.Actions())
	require.NoError(t, w.writer.Sync(context.Background(), &translate.Result{BackendTLSPolicies: res.BackendTLSPolicies[:1]}, w.listersFromAPI(t), nil))
	for _, a := range w.client.Actions()[writes:] {
		assert.NotEqual(t, "update", a.GetVerb(), "nothing changed: nothing written")
	}
}

// listersFromAPI are w's listers with the policies as the API holds them
// now (the cache after Weir's own writes arrived).
func (w *world) listersFromAPI(t *testing.T) Listers {
	t.Helper()
	list, err := w.client.GatewayV1().BackendTLSPolicies("").List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for i := range list.Items {
		require.NoError(t, idx.Add(&list.Items[i]))
	}
	l := w.listers
	l.BackendTLSPolicies = gatewaylisters.NewBackendTLSPolicyLister(idx)
	return l
}
