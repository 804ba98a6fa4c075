package translate

import (
	"fmt"
	"time"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"weir.dev/weir/proxy/cors"
	"weir.dev/weir/proxy/table"
)

// httpFilter applies one of a rule's filters to its action. A filter Weir
// does not implement (ExtensionRef, ExternalAuth, an unknown type) makes the
// rule answer 500: skipping it could serve what it was meant to stop.
func (g *gw) httpFilter(r *gwRoute, gr *gwRule, field string, f *gatewayv1.HTTPRouteFilter) {
	if err := checkFilterValues(f); err != nil {
		g.badRule(r, gr, field, err.Error())
		return
	}
	a := gr.base()
	switch f.Type {
	case gatewayv1.HTTPRouteFilterRequestHeaderModifier:
		a.RequestHeaders = headerEdits(f.RequestHeaderModifier)
	case gatewayv1.HTTPRouteFilterResponseHeaderModifier:
		a.ResponseHeaders = headerEdits(f.ResponseHeaderModifier)
	case gatewayv1.HTTPRouteFilterRequestRedirect:
		gr.redirect = f.RequestRedirect
	case gatewayv1.HTTPRouteFilterURLRewrite:
		g.urlRewrite(r, gr, field, f.URLRewrite)
	case gatewayv1.HTTPRouteFilterRequestMirror:
		g.mirror(r, gr, f.RequestMirror, false)
	case gatewayv1.HTTPRouteFilterCORS:
		a.CORS = corsFilter(f.CORS)
	default:
		g.badRule(r, gr, field, fmt.Sprintf("filter type %q is not supported", f.Type))
	}
}

// checkFilterValues refuses values that would reach the wire malformed.
func checkFilterValues(f *gatewayv1.HTTPRouteFilter) error {
	if err := checkHeaderFilter(f.RequestHeaderModifier); err != nil {
		return err
	}
	if err := checkHeaderFilter(f.ResponseHeaderModifier); err != nil {
		return err
	}
	var pm *gatewayv1.HTTPPathModifier
	switch {
	case f.RequestRedirect != nil:
		pm = f.RequestRedirect.Path
		if s := f.RequestRedirect.Scheme; s != nil && *s != "http" && *s != "https" {
			return fmt.Errorf("redirect scheme %q is not http or https", *s)
		}
	case f.URLRewrite != nil:
		pm = f.URLRewrite.Path
	}
	if pm != nil {
		for _, v := range []*string{pm.ReplaceFullPath, pm.ReplacePrefixMatch} {
			if v != nil && *v != "" {
				if err := checkPathValue(*v); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (g *gw) urlRewrite(r *gwRoute, gr *gwRule, field string, f *gatewayv1.HTTPURLRewriteFilter) {
	if f == nil {
		return
	}
	if f.Hostname != nil {
		gr.base().HostRewrite = string(*f.Hostname)
	}
	p := f.Path
	if p == nil {
		return
	}
	switch {
	case p.Type == gatewayv1.FullPathHTTPPathModifier && p.ReplaceFullPath != nil:
		gr.base().Rewrite = &table.Rewrite{Full: *p.ReplaceFullPath}
	case p.Type == gatewayv1.PrefixMatchHTTPPathModifier && p.ReplacePrefixMatch != nil:
		for _, m := range gr.matches {
			if m.Path.Type != table.PathPrefix {
				g.badRule(r, gr, field, "ReplacePrefixMatch needs PathPrefix matches")
				return
			}
		}
		repl := *p.ReplacePrefixMatch
		if repl == "" {
			repl = "/"
		}
		gr.base().Rewrite = &table.Rewrite{Prefix: repl}
	default:
		g.badRule(r, gr, field, fmt.Sprintf("path modifier %q is not valid", p.Type))
	}
}

// mirror adds a RequestMirror: its backend (a bad reference is reported and
// mirrors nothing) and its share, percent or fraction.
func (g *gw) mirror(r *gwRoute, gr *gwRule, f *gatewayv1.HTTPRequestMirrorFilter, grpc bool) {
	if f == nil {
		return
	}
	spec, err := g.backendRef(r, &f.BackendRef, grpc)
	if err != nil {
		if r.refErr == nil {
			r.refErr = err
		}
		return
	}
	m := mirrorSpec{spec: spec}
	switch {
	case f.Percent != nil:
		m.num, m.den = int(*f.Percent), 100
	case f.Fraction != nil:
		m.num, m.den = int(f.Fraction.Numerator), 100
		if f.Fraction.Denominator != nil {
			m.den = int(*f.Fraction.Denominator)
		}
	}
	gr.mirrors = append(gr.mirrors, m)
}

func corsFilter(f *gatewayv1.HTTPCORSFilter) *cors.Policy {
	if f == nil {
		return nil
	}
	c := cors.GatewayConfig{AllowCredentials: f.AllowCredentials != nil && *f.AllowCredentials,
		MaxAge: time.Duration(f.MaxAge) * time.Second}
	for _, o := range f.AllowOrigins {
		c.AllowOrigins = append(c.AllowOrigins, string(o))
	}
	for _, m := range f.AllowMethods {
		c.AllowMethods = append(c.AllowMethods, string(m))
	}
	for _, h := range f.AllowHeaders {
		c.AllowHeaders = append(c.AllowHeaders, string(h))
	}
	for _, h := range f.ExposeHeaders {
		c.ExposeHeaders = append(c.ExposeHeaders, string(h))
	}
	return cors.NewGateway(c)
}

// backendFilter applies a backendRef's own filter; only header edits are
// supported there.
func (g *gw) backendFilter(r *gwRoute, gr *gwRule, ws *weightedSpec, field string, typ gatewayv1.HTTPRouteFilterType,
	req, resp *gatewayv1.HTTPHeaderFilter) {
	if ws.filters == nil {
		ws.filters = &table.BackendFilters{}
	}
	for _, f := range []*gatewayv1.HTTPHeaderFilter{req, resp} {
		if err := checkHeaderFilter(f); err != nil {
			g.badRule(r, gr, field, err.Error())
			return
		}
	}
	switch typ {
	case gatewayv1.HTTPRouteFilterRequestHeaderModifier:
		ws.filters.RequestHeaders = headerEdits(req)
	case gatewayv1.HTTPRouteFilterResponseHeaderModifier:
		ws.filters.ResponseHeaders = headerEdits(resp)
	default:
		g.badRule(r, gr, field, fmt.Sprintf("backendRef filter type %q is not supported", typ))
	}
}

// actionFor builds a rule's action in one listener table: its backends
// become that table's, and a redirect without port takes the listener's
// (or the new scheme's well-known port).
func (gr *gwRule) actionFor(tb *tableBackends, port int32) *table.Action {
	var a table.Action
	if gr.action != nil {
		a = *gr.action
	}
	if gr.fail500 {
		return &table.Action{Respond: &table.Respond{Status: 500, Body: "route rule not supported"}}
	}
	if rd := gr.redirect; rd != nil {
		a.Redirect = redirectFor(rd, port)
		return &a
	}
	a.Split.Weighted = make([]table.WeightedBackend, 0, len(gr.backends))
	for _, ws := range gr.backends {
		a.Split.Weighted = append(a.Split.Weighted, table.WeightedBackend{Backend: tb.backend(ws.spec, gr.route), Weight: ws.weight, Filters: ws.filters})
	}
	for _, m := range gr.mirrors {
		if b := tb.backend(m.spec, gr.route); b != nil {
			a.Mirrors = append(a.Mirrors, table.Mirror{Backend: b, Numerator: m.num, Denominator: m.den})
		}
	}
	return &a
}

func redirectFor(rd *gatewayv1.HTTPRequestRedirectFilter, port int32) *table.Redirect {
	out := &table.Redirect{Status: 302}
	if rd.StatusCode != nil {
		out.Status = *rd.StatusCode
	}
	if rd.Scheme != nil {
		out.Scheme = *rd.Scheme
	}
	if rd.Hostname != nil {
		out.Host = string(*rd.Hostname)
	}
	switch {
	case rd.Port != nil:
		out.Port = int(*rd.Port)
	case out.Scheme == "https":
		out.Port = 443
	case out.Scheme == "http":
		out.Port = 80
	default:
		out.Port = int(port)
	}
	if p := rd.Path; p != nil {
		switch {
		case p.Type == gatewayv1.FullPathHTTPPathModifier && p.ReplaceFullPath != nil:
			out.Path = *p.ReplaceFullPath
		case p.Type == gatewayv1.PrefixMatchHTTPPathModifier && p.ReplacePrefixMatch != nil:
			out.PrefixPath = *p.ReplacePrefixMatch
			if out.PrefixPath == "" {
				out.PrefixPath = "/"
			}
		}
	}
	return out
}
