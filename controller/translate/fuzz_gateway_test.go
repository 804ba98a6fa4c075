package translate_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	. "weir.dev/weir/controller/translate"
)

// FuzzTranslateGateway puts fuzz input into a Gateway's listener (hostname,
// protocol, port) and an HTTPRoute's hostnames, path, header match,
// redirect, rewrite, backend port and weight, and checks that translation
// never panics, every served port has a table, every problem names its
// object and reason, and the status is what the spec asks: observedGeneration
// everywhere, one entry per listener, and both Accepted and ResolvedRefs on
// every route parent.
func FuzzTranslateGateway(f *testing.F) {
	f.Add("*.example.com", "HTTP", int32(80), "a.example.com", "/api/", "PathPrefix", "X-Env", "RegularExpression", "p.*", "https", "/new", int32(8080), int32(3))
	f.Add("", "HTTPS", int32(443), "*.wild.io", "/(", "RegularExpression", "", "Exact", "", "", "", int32(0), int32(-1))
	f.Add("very.specific.com", "TCP", int32(0), "*.specific.com", "", "Exact", "x", "Exact", "v", "ftp", "relative", int32(70000), int32(0))
	f.Fuzz(func(t *testing.T, lhost, proto string, lport int32, rhost, path, ptype, hname, htype, hvalue, scheme, rewrite string, port, weight int32) {
		in := gatewayBenchInputs(2, 2)
		gw := in.Gateways[0]
		gw.Generation = 5
		l := &gw.Spec.Listeners[0]
		l.Protocol, l.Port = gatewayv1.ProtocolType(proto), gatewayv1.PortNumber(lport)
		if lhost != "" {
			l.Hostname = ptr.To(gatewayv1.Hostname(lhost))
		}
		r := in.HTTPRoutes[0]
		r.Generation = 3
		r.Spec.Hostnames = []gatewayv1.Hostname{gatewayv1.Hostname(rhost)}
		m := &r.Spec.Rules[1].Matches[0]
		m.Path = &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchType(ptype)), Value: ptr.To(path)}
		m.Headers = []gatewayv1.HTTPHeaderMatch{{Name: gatewayv1.HTTPHeaderName(hname), Type: ptr.To(gatewayv1.HeaderMatchType(htype)), Value: hvalue}}
		br := &r.Spec.Rules[0].BackendRefs[0]
		br.Port, br.Weight = ptr.To(gatewayv1.PortNumber(port)), ptr.To(weight)
		r.Spec.Rules[1].Filters = []gatewayv1.HTTPRouteFilter{
			{Type: gatewayv1.HTTPRouteFilterRequestRedirect, RequestRedirect: &gatewayv1.HTTPRequestRedirectFilter{Scheme: ptr.To(scheme)}},
			{Type: gatewayv1.HTTPRouteFilterURLRewrite, URLRewrite: &gatewayv1.HTTPURLRewriteFilter{Path: &gatewayv1.HTTPPathModifier{
				Type: gatewayv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: ptr.To(rewrite)}}},
		}
		res := Translate(in, 1)
		for _, gl := range res.GatewayListeners {
			if gl.Table == nil {
				t.Fatalf("listener %s:%d without table", gl.Gateway, gl.Port)
			}
			_ = gl.Table.Dump()
		}
		for _, p := range res.Problems {
			if p.Object.Kind == "" || p.Reason == "" || p.Message == "" {
				t.Fatalf("incomplete problem %+v", p)
			}
		}
		checkGatewayStatus(t, res, in)
	})
}

func checkGatewayStatus(t *testing.T, res *Result, in *Inputs) {
	for _, gs := range res.Gateways {
		checkConditions(t, gs.Status.Conditions, gs.Generation)
		var spec *gatewayv1.Gateway
		for _, g := range in.Gateways {
			if g.Name == gs.Name && g.Namespace == gs.Namespace {
				spec = g
			}
		}
		if len(gs.Status.Listeners) != len(spec.Spec.Listeners) {
			t.Fatalf("%d listener entries for %d listeners", len(gs.Status.Listeners), len(spec.Spec.Listeners))
		}
		for _, l := range gs.Status.Listeners {
			checkConditions(t, l.Conditions, gs.Generation)
		}
	}
	for _, rs := range res.Routes {
		for _, p := range rs.Parents {
			checkConditions(t, p.Conditions, rs.Generation)
			var types []string
			for _, c := range p.Conditions {
				types = append(types, c.Type)
			}
			if got := strings.Join(types, ","); !strings.HasPrefix(got, "Accepted,ResolvedRefs") {
				t.Fatalf("route parent conditions %s", got)
			}
		}
	}
}

func checkConditions(t *testing.T, cs []metav1.Condition, gen int64) {
	for _, c := range cs {
		if c.ObservedGeneration != gen || c.Reason == "" || c.Type == "" || (c.Status != metav1.ConditionTrue && c.Status != metav1.ConditionFalse) {
			t.Fatalf("condition %+v (generation %d)", c, gen)
		}
	}
}
