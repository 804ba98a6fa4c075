package translate

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"weir.dev/weir/proxy/table"
)

// grpcRules translates a GRPCRoute's rules. gRPC calls are HTTP/2 POSTs to
// "/<service>/<method>", so service and method matches become path matches:
// both exact is an exact path, a service alone a prefix "/<service>/", a
// method alone or a regular expression a whole-path expression.
func (g *gw) grpcRules(r *gwRoute) {
	for ri := range r.grpc.Spec.Rules {
		rule := &r.grpc.Spec.Rules[ri]
		gr := &gwRule{route: r}
		field := "spec.rules[" + strconv.Itoa(ri) + "]"
		gr.matches = ruleMatches(g, r, field, rule.Matches, matchAllGRPC, grpcMatch)
		for fi := range rule.Filters {
			f := &rule.Filters[fi]
			ffield := field + ".filters[" + strconv.Itoa(fi) + "]"
			if err := checkHeaderFilter(f.RequestHeaderModifier); err != nil {
				g.badRule(r, gr, ffield, err.Error())
				continue
			}
			if err := checkHeaderFilter(f.ResponseHeaderModifier); err != nil {
				g.badRule(r, gr, ffield, err.Error())
				continue
			}
			switch f.Type {
			case gatewayv1.GRPCRouteFilterRequestHeaderModifier:
				gr.base().RequestHeaders = headerEdits(f.RequestHeaderModifier)
			case gatewayv1.GRPCRouteFilterResponseHeaderModifier:
				gr.base().ResponseHeaders = headerEdits(f.ResponseHeaderModifier)
			case gatewayv1.GRPCRouteFilterRequestMirror:
				g.mirror(r, gr, f.RequestMirror, true)
			default:
				g.badRule(r, gr, ffield, fmt.Sprintf("filter type %q is not supported", f.Type))
			}
		}
		for bi := range rule.BackendRefs {
			br := &rule.BackendRefs[bi]
			ws := g.weighted(r, &br.BackendRef, true)
			for fi := range br.Filters {
				f := &br.Filters[fi]
				g.backendFilter(r, gr, &ws, field+".backendRefs["+strconv.Itoa(bi)+"].filters["+strconv.Itoa(fi)+"]",
					gatewayv1.HTTPRouteFilterType(f.Type), f.RequestHeaderModifier, f.ResponseHeaderModifier)
			}
			gr.backends = append(gr.backends, ws)
		}
		r.rules = append(r.rules, gr)
	}
}

// grpcMatch turns one GRPCRouteMatch into a route's conditions.
func grpcMatch(m *gatewayv1.GRPCRouteMatch) (table.Route, error) {
	rt := table.Route{Path: table.PathMatch{Type: table.PathPrefix, Value: "/"}}
	if mm := m.Method; mm != nil {
		svc, method := "", ""
		if mm.Service != nil {
			svc = *mm.Service
		}
		if mm.Method != nil {
			method = *mm.Method
		}
		regex := mm.Type != nil && *mm.Type == gatewayv1.GRPCMethodMatchRegularExpression
		switch {
		case regex:
			rt.Path = table.PathMatch{Type: table.PathRegexFull, Value: "/(?:" + orAny(svc) + ")/(?:" + orAny(method) + ")"}
			if _, err := table.CompileFullRegex(rt.Path.Value); err != nil {
				return rt, err
			}
		case svc != "" && method != "":
			rt.Path = table.PathMatch{Type: table.PathExact, Value: "/" + svc + "/" + method}
		case svc != "":
			rt.Path = table.PathMatch{Type: table.PathPrefix, Value: "/" + svc}
		case method != "":
			rt.Path = table.PathMatch{Type: table.PathRegexFull, Value: "/[^/]+/" + regexp.QuoteMeta(method)}
		}
	}
	for i, h := range m.Headers {
		if firstGRPCHeader(m.Headers[:i], h.Name) {
			continue // the first match of a name wins
		}
		hm, err := valueMatch(h.Type != nil && *h.Type == gatewayv1.GRPCHeaderMatchRegularExpression, h.Value)
		if err != nil {
			return rt, fmt.Errorf("header %s: %w", h.Name, err)
		}
		rt.Headers = append(rt.Headers, table.HeaderMatch{Name: string(h.Name), Type: hm.Type, Value: hm.Value})
	}
	return rt, nil
}

// firstGRPCHeader reports whether an earlier match names the same header
// (names are case-insensitive).
func firstGRPCHeader(earlier []gatewayv1.GRPCHeaderMatch, name gatewayv1.GRPCHeaderName) bool {
	for _, e := range earlier {
		if strings.EqualFold(string(e.Name), string(name)) {
			return true
		}
	}
	return false
}

func orAny(expr string) string {
	if expr == "" {
		return "[^/]+"
	}
	return expr
}
