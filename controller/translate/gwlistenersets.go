package translate

import (
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// ListenerSets add listeners to a Gateway from other objects, when the
// Gateway allows them (spec.allowedListeners; none by default). Weir reads
// each entry as one more listener of its parent Gateway, after the
// Gateway's own and after older ListenerSets, so the Gateway's listeners
// and older sets win a port or hostname conflict. A route attaches to a
// ListenerSet's listeners by naming the ListenerSet as parent, never
// through the Gateway; a listener's allowedRoutes "Same" means the
// ListenerSet's namespace, and its certificates need a ReferenceGrant
// from the ListenerSet for another namespace.

// ListenerSetStatus is the status Weir owns for one ListenerSet whose
// parent is one of Weir's Gateways.
type ListenerSetStatus struct {
	Namespace, Name string
	Generation      int64
	Status          gatewayv1.ListenerSetStatus
}

// gwListenerSet is one ListenerSet on one of Weir's Gateways.
type gwListenerSet struct {
	ls        *gatewayv1.ListenerSet
	ref       ObjectRef
	gw        *gwGateway
	listeners []*gwListener
	// reason says why the set is not accepted ("" when it is).
	reason, msg string
}

// readListenerSets reads the ListenerSets whose parent is one of Weir's
// Gateways, oldest first, and adds the listeners of the allowed ones to
// their Gateway.
func (g *gw) readListenerSets(list []*gatewayv1.ListenerSet) {
	list = append([]*gatewayv1.ListenerSet(nil), list...)
	sort.Slice(list, func(i, j int) bool { return olderMeta(&list[i].ObjectMeta, &list[j].ObjectMeta) })
	g.listenerSets = map[ObjectRef]*gwListenerSet{}
	touched := map[*gwGateway]bool{}
	for _, ls := range list {
		pr := ls.Spec.ParentRef
		if (pr.Group != nil && *pr.Group != gatewayGroup) || (pr.Kind != nil && *pr.Kind != "Gateway") {
			continue
		}
		ns := ls.Namespace
		if pr.Namespace != nil {
			ns = string(*pr.Namespace)
		}
		gg := g.gateways[ObjectRef{Kind: "Gateway", Namespace: ns, Name: string(pr.Name)}]
		if gg == nil {
			continue // not on one of Weir's Gateways
		}
		set := &gwListenerSet{ls: ls, ref: ObjectRef{Kind: "ListenerSet", Namespace: ls.Namespace, Name: ls.Name}, gw: gg}
		g.listenerSets[set.ref] = set
		g.setList = append(g.setList, set)
		switch {
		case gg.badAddress != "" || gg.badParams != "":
			set.reason, set.msg = string(gatewayv1.ListenerSetReasonParentNotAccepted), "the parent Gateway is not accepted"
			continue
		case !g.allowsListenerSet(gg, ls.Namespace):
			set.reason, set.msg = string(gatewayv1.ListenerSetReasonNotAllowed), "the parent Gateway's allowedListeners do not allow ListenerSets from namespace "+ls.Namespace
			continue
		}
		for i := range ls.Spec.Listeners {
			e := &ls.Spec.Listeners[i]
			l := &gatewayv1.Listener{Name: e.Name, Hostname: e.Hostname, Port: e.Port, Protocol: e.Protocol, TLS: e.TLS, AllowedRoutes: e.AllowedRoutes}
			gl := g.readListener(gg, set, l, i)
			set.listeners = append(set.listeners, gl)
			gg.listeners = append(gg.listeners, gl)
		}
		touched[gg] = true
	}
	for gg := range touched {
		markConflicts(gg.listeners)
	}
	for _, set := range g.setList {
		if set.reason != "" {
			continue
		}
		valid := 0
		for _, l := range set.listeners {
			if l.programmed() {
				valid++
			}
		}
		if valid == 0 {
			set.reason, set.msg = string(gatewayv1.ListenerSetReasonListenersNotValid), "no listener is valid"
			continue
		}
		set.gw.attachedSets++
	}
}

// allowsListenerSet applies a Gateway's spec.allowedListeners to a
// ListenerSet in namespace ns.
func (g *gw) allowsListenerSet(gg *gwGateway, ns string) bool {
	al := gg.gw.Spec.AllowedListeners
	if al == nil || al.Namespaces == nil || al.Namespaces.From == nil {
		return false
	}
	switch *al.Namespaces.From {
	case gatewayv1.NamespacesFromAll:
		return true
	case gatewayv1.NamespacesFromSame:
		return ns == gg.gw.Namespace
	case gatewayv1.NamespacesFromSelector:
		s, err := metav1.LabelSelectorAsSelector(al.Namespaces.Selector)
		n := g.namespaces[ns]
		return al.Namespaces.Selector != nil && err == nil && n != nil && s.Matches(labels.Set(n.Labels))
	}
	return false // None
}

// parentListenerSet returns the ListenerSet on a Weir Gateway a parentRef
// names, or nil.
func (g *gw) parentListenerSet(r *gwRoute, pr gatewayv1.ParentReference) *gwListenerSet {
	if pr.Group == nil || *pr.Group != gatewayGroup || pr.Kind == nil || *pr.Kind != "ListenerSet" {
		return nil
	}
	ns := r.meta.Namespace
	if pr.Namespace != nil {
		ns = string(*pr.Namespace)
	}
	return g.listenerSets[ObjectRef{Kind: "ListenerSet", Namespace: ns, Name: string(pr.Name)}]
}

// listenerSetStatuses is the status of every ListenerSet on Weir's
// Gateways.
func (g *gw) listenerSetStatuses() []ListenerSetStatus {
	out := make([]ListenerSetStatus, 0, len(g.setList))
	for _, set := range g.setList {
		gen := set.ls.Generation
		st := gatewayv1.ListenerSetStatus{Listeners: make([]gatewayv1.ListenerEntryStatus, 0, len(set.listeners))}
		for _, l := range set.listeners {
			st.Listeners = append(st.Listeners, gatewayv1.ListenerEntryStatus(l.status(gen)))
		}
		acc := condition(string(gatewayv1.ListenerSetConditionAccepted), true, string(gatewayv1.ListenerSetReasonAccepted), "ListenerSet accepted", gen)
		prog := condition(string(gatewayv1.ListenerSetConditionProgrammed), true, string(gatewayv1.ListenerSetReasonProgrammed), "ListenerSet served", gen)
		if set.reason != "" {
			acc = condition(acc.Type, false, set.reason, set.msg, gen)
			prog = condition(prog.Type, false, set.reason, set.msg, gen)
		}
		st.Conditions = []metav1.Condition{acc, prog}
		out = append(out, ListenerSetStatus{Namespace: set.ls.Namespace, Name: set.ls.Name, Generation: gen, Status: st})
	}
	sort.Slice(out, func(i, j int) bool { return gatewayLess(out[i].Namespace, out[i].Name, out[j].Namespace, out[j].Name) })
	return out
}
