package translate

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"weir.dev/weir/proxy/table"
)

// granted reports whether a ReferenceGrant in the target's namespace lets
// objects of (fromGroup, fromKind) in fromNS refer to the named object
// (name "" asks for any object of the kind, as a grant without name gives).
func (g *gw) granted(fromGroup, fromKind, fromNS, toGroup, toKind, toNS, toName string) bool {
	for _, rg := range g.grants[toNS] {
		from := false
		for _, f := range rg.Spec.From {
			if string(f.Group) == fromGroup && string(f.Kind) == fromKind && string(f.Namespace) == fromNS {
				from = true
				break
			}
		}
		if !from {
			continue
		}
		for _, to := range rg.Spec.To {
			if string(to.Group) == toGroup && string(to.Kind) == toKind && (to.Name == nil || string(*to.Name) == toName) {
				return true
			}
		}
	}
	return false
}

// backendSpec is a resolved backendRef, before it becomes a backend of a
// particular listener's table.
type backendSpec struct {
	ns, name string
	port     int32
	proto    table.Protocol
	tls      *table.BackendTLS // a BackendTLSPolicy's (nil: none)
	policy   *gwPolicy
	// valid is false for a reference that cannot be served: its share of
	// requests gets 500.
	valid bool
}

// refError is why a reference did not resolve: a route ResolvedRefs
// reason and a message.
type refError struct{ reason, msg string }

// backendRef checks one backendRef of a route: a core Service (other kinds
// are InvalidKind), in the route's namespace or granted by a ReferenceGrant,
// that exists with the port, and whose appProtocol Weir speaks.
func (g *gw) backendRef(r *gwRoute, ref *gatewayv1.BackendObjectReference, grpc bool) (backendSpec, *refError) {
	ns := r.ref.Namespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	spec := backendSpec{ns: ns, name: string(ref.Name)}
	if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Service") {
		return spec, &refError{string(gatewayv1.RouteReasonInvalidKind),
			fmt.Sprintf("backendRef %s %s: only core Services are supported", kindName(ref.Group, derefKind(ref.Kind, "Service")), ref.Name)}
	}
	if ns != r.ref.Namespace && !g.granted(gatewayGroup, r.kind, r.ref.Namespace, "", "Service", ns, spec.name) {
		return spec, &refError{string(gatewayv1.RouteReasonRefNotPermitted),
			fmt.Sprintf("no ReferenceGrant in namespace %s allows %s to use Service %s", ns, r.ref, spec.name)}
	}
	svc := g.idx.service(ns + "/" + spec.name)
	if svc == nil {
		return spec, &refError{string(gatewayv1.RouteReasonBackendNotFound), fmt.Sprintf("Service %s/%s not found", ns, spec.name)}
	}
	if ref.Port == nil {
		return spec, &refError{string(gatewayv1.RouteReasonBackendNotFound), fmt.Sprintf("backendRef to Service %s/%s needs a port", ns, spec.name)}
	}
	spec.port = int32(*ref.Port)
	sp := servicePort(svc, svcPort{Number: spec.port})
	if sp == nil && svc.Spec.Type != corev1.ServiceTypeExternalName {
		return spec, &refError{string(gatewayv1.RouteReasonBackendNotFound), fmt.Sprintf("Service %s/%s has no port %d", ns, spec.name, spec.port)}
	}
	proto, ok := appProtocol(sp, grpc)
	if !ok {
		return spec, &refError{string(gatewayv1.RouteReasonUnsupportedProtocol),
			fmt.Sprintf("Service %s/%s port %d: appProtocol %q is not supported", ns, spec.name, spec.port, *sp.AppProtocol)}
	}
	spec.proto, spec.valid = proto, true
	if sp != nil {
		spec = g.withPolicy(r, spec, sp.Name)
	}
	return spec, nil
}

// appProtocol maps a Service port's appProtocol to the protocol Weir speaks
// to its endpoints: kubernetes.io/h2c is HTTP/2 with prior knowledge,
// kubernetes.io/ws plain HTTP/1.1 (WebSocket upgrades pass through),
// kubernetes.io/wss HTTP/1.1 over TLS. Other kubernetes.io/ values are not
// supported; names without a domain other than these are plain HTTP.
// A GRPCRoute's backends speak gRPC over h2c unless they ask for TLS.
func appProtocol(sp *corev1.ServicePort, grpc bool) (table.Protocol, bool) {
	ap := ""
	if sp != nil && sp.AppProtocol != nil {
		ap = strings.ToLower(*sp.AppProtocol)
	}
	switch ap {
	case "kubernetes.io/h2c", "h2c":
		if grpc {
			return table.GRPC, true
		}
		return table.H2C, true
	case "kubernetes.io/wss", "https":
		if grpc {
			return table.GRPCS, true
		}
		return table.HTTPS, true
	case "", "http", "kubernetes.io/ws", "grpc":
		if grpc {
			return table.GRPC, true
		}
		return table.HTTP1, true
	}
	if strings.HasPrefix(ap, "kubernetes.io/") {
		return 0, false
	}
	if grpc {
		return table.GRPC, true
	}
	return table.HTTP1, true
}

// tableBackends builds each listener table's own backends (a backend's
// index belongs to one table), one per Service port and protocol.
type tableBackends struct {
	g  *gw
	gg *gwGateway // whose client certificate TLS backends get
	by map[backendSpec]*table.Backend
}

// backend returns the table backend of a valid spec; the route is told
// (a problem) when the Service port has no endpoint.
func (tb *tableBackends) backend(spec backendSpec, r *gwRoute) *table.Backend {
	if !spec.valid {
		return nil
	}
	if b := tb.by[spec]; b != nil {
		return b
	}
	g := tb.g
	res := g.resolve(spec.ns, spec.name, svcPort{Number: spec.port})
	label := strconv.Itoa(int(spec.port))
	b := &table.Backend{
		Name: spec.ns + "/" + spec.name + ":" + label, Namespace: spec.ns, Service: spec.name, Port: label,
		Endpoints: res.endpoints, Protocol: spec.proto, Balance: table.BalancePolicy{Kind: table.LeastConn},
		Problem:  res.problem,
		TLS:      g.withClientCert(tb.gg, spec.tls, spec.policy),
		Timeouts: g.defaults.timeouts,
		Retry:    g.defaults.retry,
		Passive:  table.PassiveHealth{MaxFails: defaultMaxFails, Ejection: defaultEjection},
	}
	if res.problem != "" {
		g.problemAt(r.ref, "spec.rules", ReasonNoReadyEndpoints, Warning, "%s; requests get 503 until one is ready", res.problem)
	}
	tb.by[spec] = b
	return b
}
