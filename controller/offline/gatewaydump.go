package offline

import (
	"fmt"
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"weir.dev/weir/controller/translate"
)

// gatewayDump is what `weir translate` prints for the Gateway API after the
// Ingress table: each listener socket's table, then the status Weir would
// write, as YAML.
func gatewayDump(res *translate.Result) string {
	if len(res.GatewayListeners) == 0 && len(res.GatewayClasses) == 0 && len(res.Gateways) == 0 && len(res.Routes) == 0 {
		return ""
	}
	var b strings.Builder
	for _, l := range res.GatewayListeners {
		names := make([]string, len(l.Listeners))
		for i, n := range l.Listeners {
			names[i] = string(n)
		}
		fmt.Fprintf(&b, "\n# Gateway %s/%s port %d (%s), listeners %s\n", l.Gateway.Namespace, l.Gateway.Name, l.Port,
			l.Protocol, strings.Join(names, ", "))
		if l.Table != nil {
			b.WriteString(l.Table.Dump())
		}
	}
	b.WriteString("\n# Gateway API status (addresses come from each Gateway's LoadBalancer Service in a cluster)\n")
	st, err := yaml.Marshal(statusDoc(res))
	if err != nil {
		fmt.Fprintf(&b, "# cannot print it: %v\n", err)
	}
	b.Write(st)
	return b.String()
}

type objectStatus struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Status    any    `json:"status"`
}

func statusDoc(res *translate.Result) []objectStatus {
	var out []objectStatus
	for _, c := range res.GatewayClasses {
		out = append(out, objectStatus{Kind: "GatewayClass", Name: c.Name, Status: c.Status})
	}
	for _, g := range res.Gateways {
		out = append(out, objectStatus{Kind: "Gateway", Namespace: g.Namespace, Name: g.Name, Status: g.Status})
	}
	for _, r := range res.Routes {
		out = append(out, objectStatus{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name,
			Status: gatewayv1.RouteStatus{Parents: r.Parents}})
	}
	return out
}
