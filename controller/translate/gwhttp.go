package translate

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"weir.dev/weir/annotations"
	"weir.dev/weir/proxy/table"
)

// gwRule is one rule of a route, translated once and placed in the table
// of every listener the route attached to.
type gwRule struct {
	route *gwRoute
	// matches hold each match's conditions (Path, Method, Headers,
	// Query) and Order; host and action are filled per table.
	matches  []table.Route
	backends []weightedSpec
	mirrors  []mirrorSpec
	// action is the part of the action that does not depend on the
	// table: filters and timeouts (nil for none, as most rules have).
	action   *table.Action
	redirect *gatewayv1.HTTPRequestRedirectFilter
	// fail500 marks a rule with a filter Weir cannot apply: it answers 500
	// rather than skip the filter.
	fail500 bool

	// While one port's table is built (tableBackends identifies it): the
	// host the rule was last placed under, and its action in that table.
	placedIn, actionIn *tableBackends
	placedAt           string
	action1            *table.Action
	// placed: the match templates belong to a table now (placeRule).
	placed bool
}

type weightedSpec struct {
	spec    backendSpec
	weight  int
	filters *table.BackendFilters
}

type mirrorSpec struct {
	spec     backendSpec
	num, den int
}

// httpRules translates an HTTPRoute's rules.
func (g *gw) httpRules(r *gwRoute) {
	slab := make([]gwRule, len(r.http.Spec.Rules))
	r.rules = make([]*gwRule, 0, len(slab))
	for ri := range r.http.Spec.Rules {
		rule := &r.http.Spec.Rules[ri]
		gr := &slab[ri]
		gr.route = r
		field := "spec.rules[" + strconv.Itoa(ri) + "]"
		gr.matches = ruleMatches(g, r, field, rule.Matches, matchAllHTTP, httpMatch)
		for fi := range rule.Filters {
			g.httpFilter(r, gr, field+".filters["+strconv.Itoa(fi)+"]", &rule.Filters[fi])
		}
		if to := rule.Timeouts; to != nil {
			gr.base().Timeouts.Request = g.duration(r, field+".timeouts.request", to.Request)
			gr.base().Timeouts.BackendRequest = g.duration(r, field+".timeouts.backendRequest", to.BackendRequest)
		}
		for bi := range rule.BackendRefs {
			br := &rule.BackendRefs[bi]
			ws := g.weighted(r, &br.BackendRef, false)
			for fi := range br.Filters {
				g.backendFilter(r, gr, &ws, field+".backendRefs["+strconv.Itoa(bi)+"].filters["+strconv.Itoa(fi)+"]", br.Filters[fi].Type,
					br.Filters[fi].RequestHeaderModifier, br.Filters[fi].ResponseHeaderModifier)
			}
			gr.backends = append(gr.backends, ws)
		}
		r.rules = append(r.rules, gr)
	}
}

func (g *gw) nextOrder() int { g.order++; return g.order }

// The match of a rule without matches: everything. Shared and only read
// (httpMatch and grpcMatch never write their argument), so a rule without
// matches costs no allocation.
var (
	matchAllHTTP = []gatewayv1.HTTPRouteMatch{{}}
	matchAllGRPC = []gatewayv1.GRPCRouteMatch{{}}
)

// ruleMatches translates the matches of one HTTPRoute or GRPCRoute rule, in
// order (a rule without matches has matchAll); a match that does not
// translate is a problem and left out, the others stay.
func ruleMatches[M any](g *gw, r *gwRoute, field string, matches, matchAll []M, translate func(*M) (table.Route, error)) []table.Route {
	if len(matches) == 0 {
		matches = matchAll
	}
	out := make([]table.Route, 0, len(matches))
	for mi := range matches {
		m, err := translate(&matches[mi])
		if err != nil {
			g.badMatch(r, field+".matches["+strconv.Itoa(mi)+"]", err)
			continue
		}
		m.Order = g.nextOrder()
		out = append(out, m)
	}
	return out
}

// base returns the rule's filter action, made on first use.
func (gr *gwRule) base() *table.Action {
	if gr.action == nil {
		gr.action = &table.Action{}
	}
	return gr.action
}

// badRule records a rule Weir cannot serve as written.
func (g *gw) badRule(r *gwRoute, gr *gwRule, field, msg string) {
	r.bad++
	gr.fail500 = true
	if r.badMessage == "" {
		r.badMessage = field + ": " + msg
	}
	g.problemAt(r.ref, field, "UnsupportedValue", Warning, "%s; the rule answers 500", msg)
}

// badMatch records a match Weir cannot read; the rule's other matches
// still serve.
func (g *gw) badMatch(r *gwRoute, field string, err error) {
	r.bad++
	if r.badMessage == "" {
		r.badMessage = field + ": " + err.Error()
	}
	g.problemAt(r.ref, field, "UnsupportedValue", Warning, "%v; match ignored", err)
}

// weighted resolves a backendRef with its weight (default 1).
func (g *gw) weighted(r *gwRoute, br *gatewayv1.BackendRef, grpc bool) weightedSpec {
	spec, err := g.backendRef(r, &br.BackendObjectReference, grpc)
	if err != nil && r.refErr == nil {
		r.refErr = err
	}
	w := 1
	if br.Weight != nil {
		w = int(*br.Weight)
	}
	return weightedSpec{spec: spec, weight: w}
}

// httpMatch turns one HTTPRouteMatch into a route's conditions. A match
// without path is PathPrefix "/"; PathPrefix ignores a trailing "/".
func httpMatch(m *gatewayv1.HTTPRouteMatch) (table.Route, error) {
	rt := table.Route{Path: table.PathMatch{Type: table.PathPrefix, Value: "/"}}
	if p := m.Path; p != nil {
		if p.Value != nil {
			rt.Path.Value = *p.Value
		}
		switch {
		case p.Type == nil || *p.Type == gatewayv1.PathMatchPathPrefix:
			if len(rt.Path.Value) > 1 {
				rt.Path.Value = strings.TrimRight(rt.Path.Value, "/")
			}
			if rt.Path.Value == "" {
				rt.Path.Value = "/"
			}
		case *p.Type == gatewayv1.PathMatchExact:
			rt.Path.Type = table.PathExact
		case *p.Type == gatewayv1.PathMatchRegularExpression:
			rt.Path.Type = table.PathRegexFull
			if _, err := table.CompileFullRegex(rt.Path.Value); err != nil {
				return rt, err
			}
		default:
			return rt, fmt.Errorf("path match type %q is not supported", *p.Type)
		}
		if rt.Path.Type != table.PathRegexFull && !strings.HasPrefix(rt.Path.Value, "/") {
			return rt, fmt.Errorf("path %q must start with /", rt.Path.Value)
		}
	}
	if m.Method != nil {
		rt.Method = string(*m.Method)
	}
	for i, h := range m.Headers {
		if firstHeader(m.Headers[:i], h.Name) {
			continue // the first match of a name wins
		}
		hm, err := valueMatch(h.Type != nil && *h.Type == gatewayv1.HeaderMatchRegularExpression, h.Value)
		if err != nil {
			return rt, fmt.Errorf("header %s: %w", h.Name, err)
		}
		rt.Headers = append(rt.Headers, table.HeaderMatch{Name: string(h.Name), Type: hm.Type, Value: hm.Value})
	}
	for i, q := range m.QueryParams {
		if firstQuery(m.QueryParams[:i], q.Name) {
			continue
		}
		qm, err := valueMatch(q.Type != nil && *q.Type == gatewayv1.QueryParamMatchRegularExpression, q.Value)
		if err != nil {
			return rt, fmt.Errorf("query parameter %s: %w", q.Name, err)
		}
		rt.Query = append(rt.Query, table.QueryMatch{Name: string(q.Name), Type: qm.Type, Value: qm.Value})
	}
	return rt, nil
}

// firstHeader reports whether an earlier match names the same header
// (names are case-insensitive).
func firstHeader(earlier []gatewayv1.HTTPHeaderMatch, name gatewayv1.HTTPHeaderName) bool {
	for _, e := range earlier {
		if strings.EqualFold(string(e.Name), string(name)) {
			return true
		}
	}
	return false
}

// firstQuery reports whether an earlier match names the same parameter.
func firstQuery(earlier []gatewayv1.HTTPQueryParamMatch, name gatewayv1.HTTPHeaderName) bool {
	for _, e := range earlier {
		if e.Name == name {
			return true
		}
	}
	return false
}

// valueMatch is an exact value, or a regular expression anchored to match
// the whole value.
func valueMatch(regex bool, v string) (table.HeaderMatch, error) {
	if !regex {
		return table.HeaderMatch{Type: table.MatchExact, Value: v}, nil
	}
	if _, err := table.CompileFullRegex(v); err != nil {
		return table.HeaderMatch{}, err
	}
	return table.HeaderMatch{Type: table.MatchRegex, Value: "^(?:" + v + ")$"}, nil
}

// duration parses a Gateway API duration ("1h", "500ms"; "0s" turns the
// bound off).
func (g *gw) duration(r *gwRoute, field string, d *gatewayv1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	v, err := time.ParseDuration(string(*d))
	if err != nil || v < 0 {
		g.problemAt(r.ref, field, "UnsupportedValue", Warning, "duration %q is not valid; ignored", *d)
		return 0
	}
	return v
}

// checkHeaderFilter refuses header names that are not tokens and values
// with control characters: they could split the head Weir writes.
func checkHeaderFilter(f *gatewayv1.HTTPHeaderFilter) error {
	if f == nil {
		return nil
	}
	for _, list := range [][]gatewayv1.HTTPHeader{f.Set, f.Add} {
		for _, h := range list {
			if !httpguts.ValidHeaderFieldName(string(h.Name)) || !httpguts.ValidHeaderFieldValue(h.Value) {
				return fmt.Errorf("header %q: invalid name or value", h.Name)
			}
			if annotations.RefusedHeader(string(h.Name)) {
				// Set beside Weir's own framing, a Transfer-Encoding or a
				// second Host would let the endpoint read the request two
				// ways (smuggling); the listed names are Weir's to write.
				return fmt.Errorf("header %q frames or routes the message and cannot be set", h.Name)
			}
		}
	}
	for _, n := range f.Remove {
		if !httpguts.ValidHeaderFieldName(n) {
			return fmt.Errorf("header %q: invalid name", n)
		}
	}
	return nil
}

// checkPathValue refuses a redirect or rewrite path that is not a plain
// absolute path (no control characters, spaces, query or fragment).
func checkPathValue(p string) error {
	if !strings.HasPrefix(p, "/") || strings.ContainsAny(p, " ?#") || !httpguts.ValidHeaderFieldValue(p) {
		return fmt.Errorf("path %q must be an absolute path without spaces, query or fragment", p)
	}
	return nil
}

func headerEdits(f *gatewayv1.HTTPHeaderFilter) table.HeaderEdits {
	var e table.HeaderEdits
	if f == nil {
		return e
	}
	for _, h := range f.Set {
		e.Set = append(e.Set, table.Header{Name: string(h.Name), Value: h.Value})
	}
	for _, h := range f.Add {
		e.Add = append(e.Add, table.Header{Name: string(h.Name), Value: h.Value})
	}
	e.Remove = append(e.Remove, f.Remove...)
	return e
}
