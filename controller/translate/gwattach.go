package translate

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// gwRoute is an HTTPRoute or GRPCRoute that names one of Weir's Gateways
// (or did, by its status).
type gwRoute struct {
	kind       string
	ref        ObjectRef
	meta       *metav1.ObjectMeta
	parentRefs []gatewayv1.ParentReference
	hostnames  []string
	existing   []gatewayv1.RouteParentStatus
	http       *gatewayv1.HTTPRoute
	grpc       *gatewayv1.GRPCRoute

	parents []*gwParent
	rules   []*gwRule
	// refErr is the first reference that did not resolve (ResolvedRefs
	// False); bad counts rules Weir cannot serve as written.
	refErr     *refError
	bad        int
	badMessage string
}

// gwParent is one parentRef that names one of Weir's Gateways.
type gwParent struct {
	ref gatewayv1.ParentReference
	gw  *gwGateway
	set *gwListenerSet // when the parentRef names a ListenerSet
	// attached lists the listeners the route attached to, with the
	// hostnames it serves on each (the intersection of the listener's and
	// the route's).
	attached []listenerHosts
	// reason is "" when the route is accepted, else why not.
	reason, msg string
}

type listenerHosts struct {
	l     *gwListener
	hosts []string
}

// readRoutes collects the routes that name a Weir Gateway or carry Weir
// status, oldest first (the Gateway API's precedence tie-break), and
// translates their rules.
func (g *gw) readRoutes(httpRoutes []*gatewayv1.HTTPRoute, grpcRoutes []*gatewayv1.GRPCRoute) {
	for _, hr := range httpRoutes {
		r := &gwRoute{kind: "HTTPRoute", meta: &hr.ObjectMeta, parentRefs: hr.Spec.ParentRefs, existing: hr.Status.Parents, http: hr}
		r.hostnames = lowerHosts(hr.Spec.Hostnames)
		g.addRoute(r)
	}
	for _, gr := range grpcRoutes {
		r := &gwRoute{kind: "GRPCRoute", meta: &gr.ObjectMeta, parentRefs: gr.Spec.ParentRefs, existing: gr.Status.Parents, grpc: gr}
		r.hostnames = lowerHosts(gr.Spec.Hostnames)
		g.addRoute(r)
	}
	slices.SortFunc(g.routes, func(a, b *gwRoute) int {
		if c := a.meta.CreationTimestamp.Time.Compare(b.meta.CreationTimestamp.Time); c != 0 {
			return c
		}
		if c := strings.Compare(a.meta.Namespace, b.meta.Namespace); c != 0 {
			return c
		}
		if c := strings.Compare(a.meta.Name, b.meta.Name); c != 0 {
			return c
		}
		return strings.Compare(a.kind, b.kind)
	})
	for _, r := range g.routes {
		if len(r.parents) == 0 {
			continue
		}
		if r.http != nil {
			g.httpRules(r)
		} else {
			g.grpcRules(r)
		}
	}
}

func lowerHosts(hs []gatewayv1.Hostname) []string {
	out := make([]string, 0, len(hs))
	for _, h := range hs {
		out = append(out, strings.ToLower(string(h)))
	}
	return out
}

// addRoute keeps a route that names a Weir Gateway or has Weir status.
func (g *gw) addRoute(r *gwRoute) {
	r.ref = ObjectRef{Kind: r.kind, Namespace: r.meta.Namespace, Name: r.meta.Name}
	for _, pr := range r.parentRefs {
		if gg := g.parentGateway(r, pr); gg != nil {
			r.parents = append(r.parents, &gwParent{ref: pr, gw: gg})
		} else if set := g.parentListenerSet(r, pr); set != nil {
			r.parents = append(r.parents, &gwParent{ref: pr, gw: set.gw, set: set})
		}
	}
	if len(r.parents) > 0 {
		g.routes = append(g.routes, r)
		return
	}
	for _, p := range r.existing {
		if string(p.ControllerName) == g.ctrl {
			g.routes = append(g.routes, r)
			return
		}
	}
}

// parentGateway returns the Weir Gateway a parentRef names, or nil.
func (g *gw) parentGateway(r *gwRoute, pr gatewayv1.ParentReference) *gwGateway {
	ref, ok := parentRef(r.meta.Namespace, pr)
	if !ok {
		return nil
	}
	return g.gateways[ref]
}

// attach decides, for each of the route's Weir parents, the listeners it
// attaches to and the hostnames it serves there.
func (g *gw) attach(r *gwRoute) {
	if r.bad > 0 && !r.servable() {
		for _, p := range r.parents {
			p.reason, p.msg = string(gatewayv1.RouteReasonUnsupportedValue), r.badMessage
		}
		return
	}
	for _, p := range r.parents {
		var candidates, allowed []*gwListener
		for _, l := range p.gw.listeners {
			if l.set != p.set {
				continue // a Gateway's routes attach to its own listeners, a ListenerSet's to its
			}
			if (p.ref.SectionName == nil || *p.ref.SectionName == l.l.Name) && (p.ref.Port == nil || *p.ref.Port == l.l.Port) {
				candidates = append(candidates, l)
			}
		}
		for _, l := range candidates {
			if g.allows(l, r) {
				allowed = append(allowed, l)
			}
		}
		conflict := ""
		for _, l := range allowed {
			hs := intersectHosts(l.hostname, r.hostnames)
			if len(hs) == 0 {
				continue
			}
			if other := l.kindConflict(r, hs); other != nil {
				conflict = fmt.Sprintf("the older %s serves the same hostnames on listener %s", other.ref, l.l.Name)
				continue
			}
			p.attached = append(p.attached, listenerHosts{l, hs})
			if n := len(l.attached); n == 0 || l.attached[n-1] != r {
				l.attached = append(l.attached, r)
			}
		}
		switch {
		case len(candidates) == 0:
			p.reason, p.msg = string(gatewayv1.RouteReasonNoMatchingParent), "no listener of the Gateway matches the parentRef's sectionName and port"
		case len(allowed) == 0:
			p.reason, p.msg = string(gatewayv1.RouteReasonNotAllowedByListeners), fmt.Sprintf("no matching listener allows %s from namespace %s", r.kind, r.ref.Namespace)
		case len(p.attached) == 0 && conflict != "":
			p.reason, p.msg = ReasonRouteKindConflict, conflict
		case len(p.attached) == 0:
			p.reason, p.msg = string(gatewayv1.RouteReasonNoMatchingListenerHostname), "no hostname of the route matches a listener's hostname"
		}
	}
}

// ReasonRouteKindConflict is the Accepted=False reason of an HTTPRoute or
// GRPCRoute whose hostnames on a listener overlap those of an older route
// of the other kind: the Gateway API accepts only the older one there.
const ReasonRouteKindConflict = "HostnameConflict"

// kindConflict returns an older route of the other kind attached to l
// whose hostnames there overlap hs, or nil.
func (l *gwListener) kindConflict(r *gwRoute, hs []string) *gwRoute {
	for _, other := range l.attached {
		if other.kind == r.kind {
			continue
		}
		for _, p := range other.parents {
			for _, at := range p.attached {
				if at.l == l && hostsOverlap(at.hosts, hs) {
					return other
				}
			}
		}
	}
	return nil
}

// hostsOverlap reports whether some name is matched by both lists.
func hostsOverlap(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if hostCovers(x, y) || hostCovers(y, x) {
				return true
			}
		}
	}
	return false
}

// servable reports whether some rule of the route has a match it serves.
func (r *gwRoute) servable() bool {
	for _, rule := range r.rules {
		if len(rule.matches) > 0 && !rule.fail500 {
			return true
		}
	}
	return false
}

// allows applies a listener's allowedRoutes (kinds and namespaces).
func (g *gw) allows(l *gwListener, r *gwRoute) bool {
	if !l.accepted || (l.set != nil && l.conflicted) {
		return false
	}
	kind := false
	for _, k := range l.kinds {
		if string(k.Kind) == r.kind {
			kind = true
		}
	}
	if !kind {
		return false
	}
	from := gatewayv1.NamespacesFromSame
	var sel *metav1.LabelSelector
	if ar := l.l.AllowedRoutes; ar != nil && ar.Namespaces != nil {
		if ar.Namespaces.From != nil {
			from = *ar.Namespaces.From
		}
		sel = ar.Namespaces.Selector
	}
	switch from {
	case gatewayv1.NamespacesFromAll:
		return true
	case gatewayv1.NamespacesFromSelector:
		s, err := metav1.LabelSelectorAsSelector(sel)
		ns := g.namespaces[r.ref.Namespace]
		return sel != nil && err == nil && ns != nil && s.Matches(labels.Set(ns.Labels))
	case gatewayv1.NamespacesFromSame:
		return r.ref.Namespace == l.owner().Namespace
	}
	return false
}

// intersectHosts returns the hostnames a route serves on a listener: the
// route's hostnames that fall within the listener's, a listener hostname
// within a route wildcard, or the listener's when the route names none.
// "" is every host.
func intersectHosts(listener string, route []string) []string {
	if len(route) == 0 {
		return []string{listener}
	}
	if listener == "" {
		return route
	}
	var out []string
	for _, h := range route {
		switch {
		case hostCovers(listener, h):
			out = append(out, h)
		case hostCovers(h, listener):
			out = append(out, listener)
		}
	}
	sort.Strings(out)
	return compactStrings(out)
}

// hostCovers reports whether every name that pattern b matches is also
// matched by pattern a, with the Gateway API's wildcards ("*.x" matches one
// or more labels before ".x", never "x" itself; "" matches all).
func hostCovers(a, b string) bool {
	switch {
	case a == "" || a == b:
		return true
	case b == "" || !strings.HasPrefix(a, "*."):
		return false
	case strings.HasPrefix(b, "*."):
		return strings.HasSuffix(b[1:], a[1:])
	}
	return strings.HasSuffix(b, a[1:]) && len(b) > len(a)-1
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// status is the route's Weir-owned status; ok is false for a route with no
// Weir parent and no stale Weir entry.
func (r *gwRoute) status(ctrl string) (RouteStatus, bool) {
	st := RouteStatus{Kind: r.kind, Namespace: r.ref.Namespace, Name: r.ref.Name, Generation: r.meta.Generation}
	gen := r.meta.Generation
	for _, p := range r.parents {
		acc := condition(string(gatewayv1.RouteConditionAccepted), true, string(gatewayv1.RouteReasonAccepted), "accepted", gen)
		if p.reason != "" {
			acc = condition(acc.Type, false, p.reason, p.msg, gen)
		}
		refs := condition(string(gatewayv1.RouteConditionResolvedRefs), true, string(gatewayv1.RouteReasonResolvedRefs), "references resolved", gen)
		if r.refErr != nil {
			refs = condition(refs.Type, false, r.refErr.reason, r.refErr.msg, gen)
		}
		conds := []metav1.Condition{acc, refs}
		if r.bad > 0 && p.reason == "" {
			conds = append(conds, condition(string(gatewayv1.RouteConditionPartiallyInvalid), true,
				string(gatewayv1.RouteReasonUnsupportedValue), r.badMessage, gen))
		}
		st.Parents = append(st.Parents, gatewayv1.RouteParentStatus{ParentRef: p.ref,
			ControllerName: gatewayv1.GatewayController(ctrl), Conditions: conds})
	}
	return st, true
}
