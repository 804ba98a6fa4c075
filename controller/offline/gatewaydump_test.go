package offline

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"weir.dev/weir/controller/translate"
	"weir.dev/weir/proxy/table"
)

func TestGatewayDumpPrintsListenersAndStatus(t *testing.T) {
	empty, err := table.New(1, nil, nil)
	require.NoError(t, err)
	out := gatewayDump(&translate.Result{Table: empty})
	assert.Empty(t, out, "nothing about the Gateway API when there is none")

	res := &translate.Result{Table: empty,
		GatewayListeners: []*translate.GatewayListener{{Gateway: translate.ObjectRef{Kind: "Gateway", Namespace: "infra", Name: "web"},
			Port: 443, Protocol: gatewayv1.HTTPSProtocolType, Listeners: []gatewayv1.SectionName{"a", "b"}, Table: empty}},
		GatewayClasses: []translate.GatewayClassStatus{{Name: "weir", Status: gatewayv1.GatewayClassStatus{
			Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", ObservedGeneration: 1}}}}},
		Routes: []translate.RouteStatus{{Kind: "HTTPRoute", Namespace: "apps", Name: "app", Parents: []gatewayv1.RouteParentStatus{
			{ParentRef: gatewayv1.ParentReference{Name: "web"}, ControllerName: translate.DefaultGatewayControllerName}}}},
	}
	out = gatewayDump(res)
	assert.Contains(t, out, "# Gateway infra/web port 443 (HTTPS), listeners a, b\n")
	assert.Contains(t, out, "- kind: GatewayClass\n  name: weir\n  status:\n    conditions:\n")
	assert.Contains(t, out, "reason: Accepted")
	assert.Contains(t, out, "- kind: HTTPRoute\n  name: app\n  namespace: apps\n")
	assert.Contains(t, out, "controllerName: weir.dev/gateway-controller")
}
