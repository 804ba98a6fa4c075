package translate

import (
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// RefreshRoutes is the fast path for a change to HTTPRoutes and GRPCRoutes
// only. prev must come from Translate, Refresh or RefreshRoutes on inputs
// that differ from in only in the routes named in changed (Kind
// "HTTPRoute" or "GRPCRoute"; added, changed or deleted), and in holds every
// current object. It translates again only the Gateways those routes name
// now or named before, with every route attached to them (and, when such a
// route also names other Gateways, those too, until no Gateway is added),
// and returns a result equal to a full Translate's.
//
// The result has GatewaysOnly set: its Ingress side (Table, Certificates,
// DefaultCertificate) is prev's, unchanged; every GatewayListener of a
// Gateway that was not translated again is prev's own pointer, so the
// controller publishes only the listeners whose pointer changed. ok is false
// when prev cannot be refreshed (it has no object index); the caller then
// translates in full. A property test checks the equality.
func RefreshRoutes(prev *Result, in *Inputs, changed []ObjectRef, generation uint64) (*Result, bool) {
	// A route change can change which Gateways a BackendTLSPolicy applies
	// to: with policies, translate in full.
	if prev == nil || prev.Table == nil || prev.idx == nil || prev.idx.x == nil || len(in.BackendTLSPolicies) > 0 || len(in.ListenerSets) > 0 {
		return nil, false
	}
	t := &translator{opts: in.Options.withDefaults(), idx: prev.idx.x}
	g := t.newGW(in, generation)
	g.classStatuses(in.GatewayClasses)
	ours := make(map[ObjectRef]*gatewayv1.Gateway, len(in.Gateways))
	for _, gwo := range in.Gateways {
		if g.classes[string(gwo.Spec.GatewayClassName)] {
			ours[ObjectRef{Kind: "Gateway", Namespace: gwo.Namespace, Name: gwo.Name}] = gwo
		}
	}
	a := affectedRoutes{in: in, ours: ours, affected: map[ObjectRef]bool{}}
	a.find(prev, changed)
	gws := make([]*gatewayv1.Gateway, 0, len(a.affected))
	for ref := range a.affected {
		gws = append(gws, ours[ref])
	}
	g.readGateways(gws)
	g.readRoutes(a.http, a.grpc)
	sub := &Result{}
	g.finish(sub)

	res := *prev
	res.EndpointsOnly, res.ListenerEndpointsOnly, res.GatewaysOnly = nil, nil, true
	res.HostsChanged = nil
	res.GatewayListeners = mergeListeners(prev.GatewayListeners, sub.GatewayListeners, a.affected)
	res.Gateways = mergeGateways(prev.Gateways, sub.Gateways, a.affected)
	redone := a.redone(changed)
	skip := make([]ObjectRef, 0, len(redone))
	for ref := range redone {
		skip = append(skip, ref)
	}
	sort.Slice(skip, func(i, j int) bool {
		return routeLess(RouteStatus{Kind: skip[i].Kind, Namespace: skip[i].Namespace, Name: skip[i].Name}, skip[j])
	})
	res.Routes = mergeRoutes(prev.Routes, sub.Routes, skip)
	res.Problems = nil
	for _, p := range prev.Problems {
		if !redone[p.Object] && !a.affected[p.Object] {
			res.Problems = append(res.Problems, p)
		}
	}
	res.Problems = sortProblems(append(res.Problems, t.problems...))
	return &res, true
}

// affectedRoutes finds what RefreshRoutes translates again: the Gateways
// the changed routes name now or named before, closed over the routes that
// name them, and those routes.
type affectedRoutes struct {
	in       *Inputs
	ours     map[ObjectRef]*gatewayv1.Gateway
	affected map[ObjectRef]bool
	list     []ObjectRef // affected, in marking order (scanned while short)
	http     []*gatewayv1.HTTPRoute
	grpc     []*gatewayv1.GRPCRoute
}

func (a *affectedRoutes) find(prev *Result, changed []ObjectRef) {
	nh := len(a.in.HTTPRoutes)
	selected := make([]bool, nh+len(a.in.GRPCRoutes))
	for _, c := range changed {
		for i := range selected {
			if kind, meta, _ := a.route(i); kind == c.Kind && meta.Name == c.Name && meta.Namespace == c.Namespace {
				selected[i] = true
				a.markAll(i)
			}
		}
		// The Gateways it was attached to (its status as last computed).
		j := sort.Search(len(prev.Routes), func(j int) bool { return !routeLess(prev.Routes[j], c) })
		if j < len(prev.Routes) && prev.Routes[j].Kind == c.Kind && prev.Routes[j].Namespace == c.Namespace && prev.Routes[j].Name == c.Name {
			for _, p := range prev.Routes[j].Parents {
				if ref, ok := parentRef(c.Namespace, p.ParentRef); ok {
					a.mark(ref)
				}
			}
		}
	}
	for grew := true; grew; {
		grew = false
		for i := range selected {
			if selected[i] || !a.namesAffected(i) {
				continue
			}
			selected[i] = true
			grew = a.markAll(i) || grew
		}
	}
	for i, ok := range selected {
		switch {
		case !ok:
		case i < nh:
			a.http = append(a.http, a.in.HTTPRoutes[i])
		default:
			a.grpc = append(a.grpc, a.in.GRPCRoutes[i-nh])
		}
	}
}

// route returns the i-th route of the inputs, HTTPRoutes first.
func (a *affectedRoutes) route(i int) (string, *metav1.ObjectMeta, []gatewayv1.ParentReference) {
	if i < len(a.in.HTTPRoutes) {
		r := a.in.HTTPRoutes[i]
		return "HTTPRoute", &r.ObjectMeta, r.Spec.ParentRefs
	}
	r := a.in.GRPCRoutes[i-len(a.in.HTTPRoutes)]
	return "GRPCRoute", &r.ObjectMeta, r.Spec.ParentRefs
}

func (a *affectedRoutes) mark(ref ObjectRef) bool {
	if a.ours[ref] == nil || a.affected[ref] {
		return false
	}
	a.affected[ref] = true
	a.list = append(a.list, ref)
	return true
}

// isAffected is a.affected[ref], without hashing while few are marked.
func (a *affectedRoutes) isAffected(ns, name string) bool {
	if len(a.list) > 8 {
		return a.affected[ObjectRef{Kind: "Gateway", Namespace: ns, Name: name}]
	}
	for _, r := range a.list {
		if r.Name == name && r.Namespace == ns {
			return true
		}
	}
	return false
}

// markAll marks every Weir Gateway route i names; it reports whether one
// was new.
func (a *affectedRoutes) markAll(i int) bool {
	_, meta, parents := a.route(i)
	grew := false
	for _, pr := range parents {
		if ref, ok := parentRef(meta.Namespace, pr); ok {
			grew = a.mark(ref) || grew
		}
	}
	return grew
}

func (a *affectedRoutes) namesAffected(i int) bool {
	_, meta, parents := a.route(i)
	for _, pr := range parents {
		if ref, ok := parentRef(meta.Namespace, pr); ok && a.isAffected(ref.Namespace, ref.Name) {
			return true
		}
	}
	return false
}

// redone names every route whose status and problems were computed again.
func (a *affectedRoutes) redone(changed []ObjectRef) map[ObjectRef]bool {
	out := make(map[ObjectRef]bool, len(a.http)+len(a.grpc)+len(changed))
	for _, r := range a.http {
		out[ObjectRef{Kind: "HTTPRoute", Namespace: r.Namespace, Name: r.Name}] = true
	}
	for _, r := range a.grpc {
		out[ObjectRef{Kind: "GRPCRoute", Namespace: r.Namespace, Name: r.Name}] = true
	}
	for _, c := range changed {
		out[c] = true
	}
	return out
}

// routeLess orders route statuses by namespace, name and kind.
func routeLess(rs RouteStatus, ref ObjectRef) bool {
	if rs.Namespace != ref.Namespace {
		return rs.Namespace < ref.Namespace
	}
	if rs.Name != ref.Name {
		return rs.Name < ref.Name
	}
	return rs.Kind < ref.Kind
}

// parentRef names the Gateway a parentRef refers to (ok false for other
// kinds).
func parentRef(routeNS string, pr gatewayv1.ParentReference) (ObjectRef, bool) {
	if (pr.Group != nil && *pr.Group != gatewayGroup) || (pr.Kind != nil && *pr.Kind != "Gateway") {
		return ObjectRef{}, false
	}
	ns := routeNS
	if pr.Namespace != nil {
		ns = string(*pr.Namespace)
	}
	return ObjectRef{Kind: "Gateway", Namespace: ns, Name: string(pr.Name)}, true
}

// mergeRoutes keeps prev's statuses but the redone ones and merges in the
// new ones; every list is sorted by routeLess.
func mergeRoutes(prev, redone []RouteStatus, skip []ObjectRef) []RouteStatus {
	out := make([]RouteStatus, 0, len(prev)+len(redone))
	j, k := 0, 0
	for _, rs := range prev {
		ref := ObjectRef{Kind: rs.Kind, Namespace: rs.Namespace, Name: rs.Name}
		for k < len(skip) && routeLess(RouteStatus{Kind: skip[k].Kind, Namespace: skip[k].Namespace, Name: skip[k].Name}, ref) {
			k++
		}
		if k < len(skip) && skip[k] == ref {
			continue
		}
		for j < len(redone) && routeLess(redone[j], ref) {
			out = append(out, redone[j])
			j++
		}
		out = append(out, rs)
	}
	return append(out, redone[j:]...)
}

// gatewayLess orders Gateways by namespace and name.
func gatewayLess(ans, an, bns, bn string) bool {
	if ans != bns {
		return ans < bns
	}
	return an < bn
}

func mergeListeners(prev, redone []*GatewayListener, affected map[ObjectRef]bool) []*GatewayListener {
	out := make([]*GatewayListener, 0, len(prev)+len(redone))
	j := 0
	for _, gl := range prev {
		if affected[gl.Gateway] {
			continue
		}
		for j < len(redone) && gatewayLess(redone[j].Gateway.Namespace, redone[j].Gateway.Name, gl.Gateway.Namespace, gl.Gateway.Name) {
			out = append(out, redone[j])
			j++
		}
		out = append(out, gl)
	}
	return append(out, redone[j:]...)
}

func mergeGateways(prev, redone []GatewayStatus, affected map[ObjectRef]bool) []GatewayStatus {
	out := make([]GatewayStatus, 0, len(prev)+len(redone))
	j := 0
	for _, gs := range prev {
		if affected[ObjectRef{Kind: "Gateway", Namespace: gs.Namespace, Name: gs.Name}] {
			continue
		}
		for j < len(redone) && gatewayLess(redone[j].Namespace, redone[j].Name, gs.Namespace, gs.Name) {
			out = append(out, redone[j])
			j++
		}
		out = append(out, gs)
	}
	return append(out, redone[j:]...)
}
