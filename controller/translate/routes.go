package translate

import (
	networkingv1 "k8s.io/api/networking/v1"

	"weir.dev/weir/proxy/table"
)

// pathType maps an Ingress path to the table's type (docs/routing.md):
// Exact stays exact; on an Ingress with use-regex or rewrite-target an
// ImplementationSpecific (or unset) path is a regex; everything else is
// Prefix.
func pathType(pt *networkingv1.PathType, regex bool) table.PathType {
	switch {
	case pt != nil && *pt == networkingv1.PathTypeExact:
		return table.PathExact
	case pt != nil && *pt == networkingv1.PathTypePrefix:
		return table.PathPrefix
	case regex:
		return table.PathRegex
	default:
		return table.PathPrefix
	}
}

// addMain adds the routes of an ordinary Ingress; a route whose host, path
// and type an older Ingress already has is a problem on this one.
func (t *translator) addMain(p *parsed) {
	cfg := p.cfg
	regex := cfg.UseRegex || cfg.RewriteTarget != ""
	if db := p.ing.Spec.DefaultBackend; db != nil && len(p.ing.Spec.Rules) == 0 {
		t.setDefault(p, db)
	}
	for ri, rule := range p.ing.Spec.Rules {
		host, ok := normalizeHost(rule.Host)
		field := ruleField(ri)
		if !ok {
			t.problem(p, field.with(".host").String(), ReasonInvalidHost, Warning, "host %q is not a DNS name or a one-label wildcard; rule ignored", rule.Host)
			continue
		}
		t.claimHost(p, host)
		if cfg.AppRoot != "" {
			t.addRoute(p, host, field, table.PathMatch{Type: table.PathExact, Value: "/"},
				&table.Action{Redirect: &table.Redirect{Status: 302, URL: cfg.AppRoot}})
		}
		if rule.HTTP == nil {
			continue
		}
		for pi, path := range rule.HTTP.Paths {
			pfield := pathField(ri, pi)
			pm, ok := t.pathMatch(p, pfield, path, regex)
			if !ok {
				continue
			}
			b := t.backendFor(p, pfield.with(".backend"), &path.Backend, p.cfg)
			if b == nil {
				continue
			}
			t.addRoute(p, host, pfield, pm, t.action(p, host, b))
		}
	}
}

func (t *translator) pathMatch(p *parsed, field fieldRef, path networkingv1.HTTPIngressPath, regex bool) (table.PathMatch, bool) {
	pm := table.PathMatch{Type: pathType(path.PathType, regex), Value: path.Path}
	if pm.Value == "" {
		pm.Value = "/"
	}
	if pm.Type == table.PathRegex {
		if _, err := table.CompilePathRegex(pm.Value); err != nil {
			t.problem(p, field.with(".path").String(), ReasonInvalidPath, Warning, "%v; path ignored", err)
			return pm, false
		}
		return pm, true
	}
	if pm.Value[0] != '/' {
		t.problem(p, field.with(".path").String(), ReasonInvalidPath, Warning, "path %q must start with /; path ignored", pm.Value)
		return pm, false
	}
	return pm, true
}

// addRoute records a main route for host and the Ingress's server aliases.
func (t *translator) addRoute(p *parsed, host string, field fieldRef, pm table.PathMatch, a *table.Action) {
	key := conflictKey{host, pm.Value, pm.Type}
	if prev := t.routes[key]; prev != nil {
		t.problem(p, field.String(), ReasonPathConflict, Warning, "host %q path %q is already routed by the older %s; this path is ignored",
			displayHost(host), pm.Value, prev.owner.ref)
		return
	}
	e := &routeEntry{route: t.newRoute(p, host, pm, a), owner: p}
	t.routes[key] = e
	t.noteRoute(host, p)
	if host == "" {
		return
	}
	for _, alias := range p.cfg.ServerAlias {
		akey := conflictKey{alias, pm.Value, pm.Type}
		if t.routes[akey] != nil || !t.isAliasOf(alias, p) {
			t.problem(p, "metadata.annotations[server-alias]", ReasonServerAlias, Warning, "alias %q is already a host of another rule; alias ignored", alias)
			continue
		}
		copyAction := *a
		ar := t.newRoute(p, alias, pm, &copyAction)
		e.aliases = append(e.aliases, ar)
		t.routes[akey] = &routeEntry{route: ar, owner: p}
		t.noteRoute(alias, p)
	}
}

// noteRoute records that p has a route on host.
func (t *translator) noteRoute(host string, p *parsed) {
	if owner, seen := t.hosts[host]; !seen {
		t.hosts[host] = p
	} else if owner != p {
		t.hosts[host] = nil // routes of several Ingresses
	}
}

// isAliasOf reports whether every route of host so far came from p (its own
// aliases across several rules). One lookup: scanning every route here made
// a translation quadratic in an Ingress's paths times its aliases.
func (t *translator) isAliasOf(host string, p *parsed) bool {
	owner, seen := t.hosts[host]
	return !seen || owner == p
}

func (t *translator) newRoute(p *parsed, host string, pm table.PathMatch, a *table.Action) *table.Route {
	r := &table.Route{Host: host, Path: pm, Action: a, Order: t.order,
		Source: table.Source{Kind: "Ingress", Namespace: p.ing.Namespace, Name: p.ing.Name}}
	t.order++
	t.list = append(t.list, r)
	return r
}

func displayHost(h string) string {
	if h == "" {
		return "*"
	}
	return h
}

// setDefault makes an Ingress's spec.defaultBackend the table's default
// action; the oldest Ingress that has one wins.
func (t *translator) setDefault(p *parsed, db *networkingv1.IngressBackend) {
	if t.defOwner != nil {
		t.problem(p, "spec.defaultBackend", ReasonDefaultBackend, Warning, "the older %s already sets the default backend; ignored", t.defOwner.ref)
		return
	}
	b := t.backendFor(p, plainField("spec.defaultBackend"), db, p.cfg)
	if b == nil {
		return
	}
	// ingress-nginx applies the Ingress's annotations to the catch-all
	// location (all but redirects and rewrites): its access checks hold.
	t.def = &table.Action{Split: table.Split{Main: b}}
	t.applyAccess(p, t.def)
	t.defOwner = p
}

// addCanary attaches a canary Ingress's paths to the main routes with the
// same host, path string and (exact or not) type (docs/routing.md, "Several Ingresses on one host").
func (t *translator) addCanary(p *parsed) {
	if db := p.ing.Spec.DefaultBackend; db != nil {
		t.attachDefaultCanary(p, db)
	}
	for ri, rule := range p.ing.Spec.Rules {
		host, ok := normalizeHost(rule.Host)
		field := ruleField(ri)
		if !ok {
			t.problem(p, field.with(".host").String(), ReasonInvalidHost, Warning, "host %q is not a DNS name or a one-label wildcard; rule ignored", rule.Host)
			continue
		}
		if rule.HTTP == nil {
			continue
		}
		if _, ok := t.hosts[host]; !ok {
			t.problem(p, field.with(".host").String(), ReasonCanaryWithoutMain, Warning, "no main Ingress serves host %q; the canary is ignored", displayHost(host))
			continue
		}
		for pi, path := range rule.HTTP.Paths {
			pfield := pathField(ri, pi)
			e := t.pairFor(host, path)
			if e == nil {
				t.problem(p, pfield.String(), ReasonCanaryWithoutMain, Warning, "no main Ingress routes host %q path %q; this canary path is ignored",
					displayHost(host), pathOrRoot(path.Path))
				continue
			}
			if ns := e.owner.ing.Namespace; ns != p.ing.Namespace {
				t.problem(p, pfield.String(), ReasonCanaryWithoutMain, Warning, "host %q path %q is routed by %s of another namespace; a canary pairs only with routes of its own namespace, this canary path is ignored",
					displayHost(host), pathOrRoot(path.Path), e.owner.ref)
				continue
			}
			if e.canary != nil {
				t.problem(p, pfield.String(), ReasonCanaryConflict, Warning, "the older canary %s already splits host %q path %q; only one canary per route works",
					e.canary.ref, displayHost(host), pathOrRoot(path.Path))
				continue
			}
			c := t.canaryFor(p, pfield.with(".backend"), &path.Backend, e.owner)
			if c == nil {
				continue
			}
			e.canary = p
			e.route.Action.Split.Canary = c
			for _, a := range e.aliases {
				a.Action.Split.Canary = c
			}
		}
	}
}

// pairFor finds the main route a canary path pairs with: same host and path
// string; Exact pairs with Exact, anything else with Prefix or regex.
func (t *translator) pairFor(host string, path networkingv1.HTTPIngressPath) *routeEntry {
	v := pathOrRoot(path.Path)
	if path.PathType != nil && *path.PathType == networkingv1.PathTypeExact {
		return t.routes[conflictKey{host, v, table.PathExact}]
	}
	if e := t.routes[conflictKey{host, v, table.PathPrefix}]; e != nil {
		return e
	}
	return t.routes[conflictKey{host, v, table.PathRegex}]
}

func (t *translator) attachDefaultCanary(p *parsed, db *networkingv1.IngressBackend) {
	if t.def == nil || t.def.Split.Main == nil {
		t.problem(p, "spec.defaultBackend", ReasonCanaryWithoutMain, Warning, "no main Ingress sets a default backend; the canary default backend is ignored")
		return
	}
	if t.defOwner != nil && t.defOwner.ing.Namespace != p.ing.Namespace {
		t.problem(p, "spec.defaultBackend", ReasonCanaryWithoutMain, Warning, "the default backend is %s's, of another namespace; a canary pairs only within its own namespace, the canary default backend is ignored", t.defOwner.ref)
		return
	}
	if t.def.Split.Canary != nil {
		t.problem(p, "spec.defaultBackend", ReasonCanaryConflict, Warning, "another canary already splits the default backend")
		return
	}
	if c := t.canaryFor(p, plainField("spec.defaultBackend"), db, t.defOwner); c != nil {
		t.def.Split.Canary = c
	}
}

func pathOrRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}
