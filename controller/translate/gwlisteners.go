package translate

import (
	"fmt"
	"sort"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	weirtls "weir.dev/weir/tls"
)

// gwGateway is one of Weir's Gateways with its listeners checked.
type gwGateway struct {
	gw        *gatewayv1.Gateway
	ref       ObjectRef
	listeners []*gwListener
	// badAddress explains an unsupported spec.addresses entry, badParams
	// a spec.infrastructure.parametersRef.
	badAddress, badParams string
	// backendCert is presented to TLS backends (spec.tls.backend);
	// backendRefs says the Gateway names one, backendReason why it does
	// not resolve.
	backendCert               *weirtls.Certificate
	backendRefs               bool
	backendReason, backendMsg string
	// attachedSets counts the ListenerSets accepted on the Gateway.
	attachedSets int
}

// owner is the object a listener is written in: the Gateway or its
// ListenerSet (their namespaces may differ).
func (l *gwListener) owner() ObjectRef {
	if l.set != nil {
		return l.set.ref
	}
	return l.gw.ref
}

// gwListener is one listener and what translation learned about it.
type gwListener struct {
	l        *gatewayv1.Listener
	gw       *gwGateway
	set      *gwListenerSet // the ListenerSet it comes from (nil: the Gateway's own)
	hostname string         // lower case; "" for none
	kinds    []gatewayv1.RouteGroupKind
	// accepted is false for an unsupported protocol or TLS mode (reason
	// and message say why); conflicted for a port or hostname clash.
	accepted                 bool
	acceptReason, acceptMsg  string
	conflicted               bool
	conflictReason, conflMsg string
	// refsReason is "" when every reference resolved.
	refsReason, refsMsg string
	cert                *weirtls.Certificate
	// clientCAs verify client certificates on the listener's port
	// (spec.tls.frontend; nil: none asked for).
	clientCAs *frontendCAs
	certRef   ObjectRef // cert's Secret
	// attached lists the routes attached, in route order, once each.
	attached []*gwRoute
}

// programmed says whether the listener is served.
func (l *gwListener) programmed() bool {
	return l.accepted && !l.conflicted && (l.l.Protocol != gatewayv1.HTTPSProtocolType || l.cert != nil)
}

const gatewayGroup = gatewayv1.GroupName

// readGateways keeps the Gateways of Weir's accepted classes, sorted by
// namespace and name, and checks their listeners.
func (g *gw) readGateways(gws []*gatewayv1.Gateway) {
	for _, gwo := range gws {
		if !g.classes[string(gwo.Spec.GatewayClassName)] {
			continue
		}
		gg := &gwGateway{gw: gwo, ref: ObjectRef{Kind: "Gateway", Namespace: gwo.Namespace, Name: gwo.Name}}
		for _, a := range gwo.Spec.Addresses {
			if a.Type != nil && *a.Type != gatewayv1.IPAddressType && *a.Type != gatewayv1.HostnameAddressType {
				gg.badAddress = fmt.Sprintf("address type %q is not supported (IPAddress and Hostname are)", *a.Type)
			}
		}
		if inf := gwo.Spec.Infrastructure; inf != nil && inf.ParametersRef != nil {
			gg.badParams = fmt.Sprintf("Weir takes no parameters (%s %s); remove spec.infrastructure.parametersRef",
				kindName(&inf.ParametersRef.Group, inf.ParametersRef.Kind), inf.ParametersRef.Name)
		}
		for i := range gwo.Spec.Listeners {
			gg.listeners = append(gg.listeners, g.readListener(gg, nil, &gwo.Spec.Listeners[i], i))
		}
		markConflicts(gg.listeners)
		g.backendClientCert(gg)
		g.gateways[gg.ref] = gg
		g.gwList = append(g.gwList, gg)
	}
	sort.Slice(g.gwList, func(i, j int) bool {
		a, b := g.gwList[i].ref, g.gwList[j].ref
		return gatewayLess(a.Namespace, a.Name, b.Namespace, b.Name)
	})
}

func (g *gw) readListener(gg *gwGateway, set *gwListenerSet, l *gatewayv1.Listener, i int) *gwListener {
	gl := &gwListener{l: l, gw: gg, set: set, accepted: true}
	if l.Hostname != nil {
		gl.hostname, _ = normalizeHost(string(*l.Hostname))
	}
	switch l.Protocol {
	case gatewayv1.HTTPProtocolType:
	case gatewayv1.HTTPSProtocolType:
		if l.TLS != nil && l.TLS.Mode != nil && *l.TLS.Mode != gatewayv1.TLSModeTerminate {
			gl.accepted, gl.acceptReason = false, string(gatewayv1.ListenerReasonUnsupportedValue)
			gl.acceptMsg = "HTTPS listeners terminate TLS; mode Passthrough needs a TLS listener, which Weir does not serve"
		}
	default:
		gl.accepted, gl.acceptReason = false, string(gatewayv1.ListenerReasonUnsupportedProtocol)
		gl.acceptMsg = fmt.Sprintf("protocol %q is not supported (HTTP and HTTPS are)", l.Protocol)
		return gl // no supported kinds for an unknown protocol
	}
	g.listenerKinds(gl)
	if l.Protocol == gatewayv1.HTTPSProtocolType && gl.accepted {
		g.listenerCertificate(gl, i)
		g.listenerClientCAs(gl)
	}
	return gl
}

// listenerKinds fills supportedKinds: HTTPRoute and GRPCRoute by default,
// else the valid kinds of allowedRoutes.kinds.
func (g *gw) listenerKinds(gl *gwListener) {
	group := gatewayv1.Group(gatewayGroup)
	valid := []gatewayv1.RouteGroupKind{{Group: &group, Kind: "HTTPRoute"}, {Group: &group, Kind: "GRPCRoute"}}
	ar := gl.l.AllowedRoutes
	if ar == nil || len(ar.Kinds) == 0 {
		gl.kinds = valid
		return
	}
	gl.kinds = []gatewayv1.RouteGroupKind{}
	for _, k := range ar.Kinds {
		ok := (k.Group == nil || *k.Group == gatewayGroup) && (k.Kind == "HTTPRoute" || k.Kind == "GRPCRoute")
		if ok {
			gl.kinds = append(gl.kinds, gatewayv1.RouteGroupKind{Group: &group, Kind: k.Kind})
			continue
		}
		gl.refsReason = string(gatewayv1.ListenerReasonInvalidRouteKinds)
		gl.refsMsg = fmt.Sprintf("route kind %s is not supported on %s listeners", kindName(k.Group, k.Kind), gl.l.Protocol)
	}
}

func kindName(group *gatewayv1.Group, kind gatewayv1.Kind) string {
	if group == nil || *group == "" {
		return string(kind)
	}
	return string(kind) + "." + string(*group)
}

// listenerCertificate resolves an HTTPS listener's first certificateRef.
func (g *gw) listenerCertificate(gl *gwListener, i int) {
	field := "spec.listeners[" + strconv.Itoa(i) + "].tls.certificateRefs"
	if gl.l.TLS == nil || len(gl.l.TLS.CertificateRefs) == 0 {
		gl.refsReason, gl.refsMsg = string(gatewayv1.ListenerReasonInvalidCertificateRef), "an HTTPS listener needs a certificateRef"
		return
	}
	owner := gl.owner()
	for _, ref := range gl.l.TLS.CertificateRefs {
		ns := owner.Namespace
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
		}
		switch {
		case (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Secret"):
			gl.refsReason = string(gatewayv1.ListenerReasonInvalidCertificateRef)
			gl.refsMsg = fmt.Sprintf("certificateRef %s %s: only core Secrets are supported", kindName(ref.Group, derefKind(ref.Kind, "Secret")), ref.Name)
		case ns != owner.Namespace && !g.granted(gatewayGroup, owner.Kind, owner.Namespace, "", "Secret", ns, string(ref.Name)):
			gl.refsReason = string(gatewayv1.ListenerReasonRefNotPermitted)
			gl.refsMsg = fmt.Sprintf("no ReferenceGrant in namespace %s allows this %s to use Secret %s", ns, owner.Kind, ref.Name)
		default:
			cert, err := g.certificate(ns, string(ref.Name))
			if err != nil {
				gl.refsReason, gl.refsMsg = string(gatewayv1.ListenerReasonInvalidCertificateRef), err.Error()
				g.problemAt(owner, field, ReasonTLSSecret, Warning, "%v", err)
				continue
			}
			if gl.cert == nil {
				gl.cert, gl.certRef = cert, ObjectRef{Kind: "Secret", Namespace: ns, Name: string(ref.Name)}
			}
		}
	}
}

func derefKind(k *gatewayv1.Kind, def gatewayv1.Kind) gatewayv1.Kind {
	if k == nil {
		return def
	}
	return *k
}

// markConflicts marks listeners that share a port with a different
// protocol (the first protocol on the port wins), or a port, protocol and
// hostname with an earlier listener.
func markConflicts(ls []*gwListener) {
	proto := map[gatewayv1.PortNumber]gatewayv1.ProtocolType{}
	type hostKey struct {
		port gatewayv1.PortNumber
		host string
	}
	seen := map[hostKey]bool{}
	for _, l := range ls {
		if !l.accepted && l.set == nil {
			continue
		}
		if p, ok := proto[l.l.Port]; ok && p != l.l.Protocol {
			l.conflicted, l.conflictReason = true, string(gatewayv1.ListenerReasonProtocolConflict)
			l.conflMsg = fmt.Sprintf("port %d is already %s on this Gateway", l.l.Port, p)
			continue
		}
		if !l.accepted {
			continue // a ListenerSet's unsupported protocol conflicts, but claims no port
		}
		proto[l.l.Port] = l.l.Protocol
		k := hostKey{l.l.Port, l.hostname}
		if seen[k] {
			l.conflicted, l.conflictReason = true, string(gatewayv1.ListenerReasonHostnameConflict)
			l.conflMsg = fmt.Sprintf("another listener on port %d has hostname %q", l.l.Port, displayHost(l.hostname))
			continue
		}
		seen[k] = true
	}
}

// listenerStatus is the status entry of one listener.
func (l *gwListener) status(gen int64) gatewayv1.ListenerStatus {
	st := gatewayv1.ListenerStatus{Name: l.l.Name, SupportedKinds: l.kinds, AttachedRoutes: int32(len(l.attached))}
	if st.SupportedKinds == nil {
		st.SupportedKinds = []gatewayv1.RouteGroupKind{}
	}
	acc := condition(string(gatewayv1.ListenerConditionAccepted), true, string(gatewayv1.ListenerReasonAccepted), "listener accepted", gen)
	if !l.accepted {
		acc = condition(acc.Type, false, l.acceptReason, l.acceptMsg, gen)
	}
	refs := condition(string(gatewayv1.ListenerConditionResolvedRefs), true, string(gatewayv1.ListenerReasonResolvedRefs), "references resolved", gen)
	if l.refsReason != "" {
		refs = condition(refs.Type, false, l.refsReason, l.refsMsg, gen)
	}
	confl := condition(string(gatewayv1.ListenerConditionConflicted), false, string(gatewayv1.ListenerReasonNoConflicts), "no conflicts", gen)
	if l.conflicted {
		confl = condition(confl.Type, true, l.conflictReason, l.conflMsg, gen)
	}
	prog := condition(string(gatewayv1.ListenerConditionProgrammed), true, string(gatewayv1.ListenerReasonProgrammed), "listener served", gen)
	if !l.programmed() {
		prog = condition(prog.Type, false, string(gatewayv1.ListenerReasonInvalid), "listener not served: see the other conditions", gen)
	}
	if l.set != nil && l.conflicted {
		// A ListenerSet's listener that loses a conflict is not accepted:
		// the Gateway's own listener or an older set's keeps the port.
		acc = condition(acc.Type, false, l.conflictReason, l.conflMsg, gen)
		prog = condition(prog.Type, false, l.conflictReason, l.conflMsg, gen)
	}
	st.Conditions = []metav1.Condition{acc, confl, prog, refs}
	return st
}

// status is the Gateway's status without addresses (WithAddresses adds
// them).
func (gg *gwGateway) status() GatewayStatus {
	gen := gg.gw.Generation
	st := gatewayv1.GatewayStatus{Listeners: make([]gatewayv1.ListenerStatus, 0, len(gg.listeners))}
	valid := 0
	own := 0
	for _, l := range gg.listeners {
		if l.set != nil {
			continue
		}
		own++
		st.Listeners = append(st.Listeners, l.status(gen))
		if l.accepted && !l.conflicted {
			valid++
		}
	}
	if gg.attachedSets > 0 { // absent reads as 0
		sets := int32(gg.attachedSets)
		st.AttachedListenerSets = &sets
	}
	acc := condition(string(gatewayv1.GatewayConditionAccepted), true, string(gatewayv1.GatewayReasonAccepted), "Gateway accepted", gen)
	switch {
	case gg.badAddress != "":
		acc = condition(acc.Type, false, string(gatewayv1.GatewayReasonUnsupportedAddress), gg.badAddress, gen)
	case gg.badParams != "":
		acc = condition(acc.Type, false, string(gatewayv1.GatewayReasonInvalidParameters), gg.badParams, gen)
	case valid == 0 && own > 0:
		acc = condition(acc.Type, false, string(gatewayv1.GatewayReasonListenersNotValid), "no listener is valid", gen)
	case valid < own:
		acc = condition(acc.Type, true, string(gatewayv1.GatewayReasonListenersNotValid), "some listeners are not valid", gen)
	}
	// An accepted Gateway is programmed even while some listeners'
	// references are unresolved: its other listeners are served.
	prog := condition(string(gatewayv1.GatewayConditionProgrammed), true, string(gatewayv1.GatewayReasonProgrammed), "Gateway served", gen)
	if acc.Status == metav1.ConditionFalse {
		prog = condition(prog.Type, false, string(gatewayv1.GatewayReasonInvalid), "the Gateway is not accepted", gen)
	}
	st.Conditions = []metav1.Condition{acc, prog}
	if refs, ok := gg.backendRefsCondition(gen); ok {
		st.Conditions = append(st.Conditions, refs)
	}
	if gg.insecureFrontend() {
		st.Conditions = append(st.Conditions, condition(string(gatewayv1.GatewayConditionInsecureFrontendValidationMode), true,
			string(gatewayv1.GatewayReasonConfigurationChanged), "spec.tls.frontend allows clients without a valid certificate (AllowInsecureFallback)", gen))
	}
	return GatewayStatus{Namespace: gg.gw.Namespace, Name: gg.gw.Name, Generation: gen, Status: st}
}

// insecureFrontend says whether a served HTTPS listener lets clients in
// without a valid certificate (AllowInsecureFallback).
func (gg *gwGateway) insecureFrontend() bool {
	for _, l := range gg.listeners {
		if l.clientCAs != nil && l.clientCAs.insecure {
			return true
		}
	}
	return false
}
