package translate

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"weir.dev/weir/proxy/table"
)

// resolved is a Service port resolved to endpoints.
type resolved struct {
	portName  string // the Service port's name or number, for the backend name
	endpoints []table.Endpoint
	problem   string // why there are no endpoints, when that is an error
	reason    string
}

// svcPort names a port of a Service: by name when Name is set, else by
// number. Both sources (Ingress and the Gateway API) resolve through it.
type svcPort struct {
	Name   string
	Number int32
}

// ingressPort is an Ingress backend's port reference.
func ingressPort(p networkingv1.ServiceBackendPort) svcPort {
	return svcPort{Name: p.Name, Number: p.Number}
}

// servicePort finds the port of svc that ref names (nil when none does). A
// number that a TCP and a UDP port share (DNS's 53) names the TCP one,
// whatever their order: HTTP goes over TCP, and the EndpointSlice port is
// then looked up by the TCP port's name.
func servicePort(svc *corev1.Service, ref svcPort) *corev1.ServicePort {
	if ref.Name == "" {
		if p := portOfProtocol(svc, ref.Number, corev1.ProtocolTCP); p != nil {
			return p
		}
	}
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if (ref.Name != "" && p.Name == ref.Name) || (ref.Name == "" && p.Port == ref.Number) {
			return p
		}
	}
	return nil
}

// resolve finds the endpoints of a Service port through its EndpointSlices
// (never its ClusterIP: there may be no kube-proxy). Ready endpoints are
// used; when none is ready, serving ones (terminating included) are, so a
// rollout that briefly has no ready pod does not fail requests.
func (t *translator) resolve(ns, name string, ref svcPort) resolved {
	svc := t.idx.service(ns + "/" + name)
	portLabel := portLabel(ref)
	if svc == nil {
		return resolved{portName: portLabel, reason: ReasonServiceNotFound,
			problem: fmt.Sprintf("service %s/%s not found", ns, name)}
	}
	sp := servicePort(svc, ref)
	if t.streamProto != "" && sp != nil && protocolOf(sp) != t.streamProto && ref.Name == "" {
		sp = portOfProtocol(svc, ref.Number, t.streamProto) // a number shared by a TCP and a UDP port (DNS)
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName && t.opts.DisableExternalName {
		return resolved{portName: portLabel, reason: ReasonExternalName,
			problem: fmt.Sprintf("service %s/%s is of type ExternalName, which --disable-svc-external-name refuses", ns, name)}
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		port := ref.Number
		if sp != nil {
			port = sp.Port
		}
		if port == 0 {
			return resolved{portName: portLabel, reason: ReasonServicePortNotFound,
				problem: fmt.Sprintf("service %s/%s has no port %s", ns, name, portLabel)}
		}
		addr := net.JoinHostPort(svc.Spec.ExternalName, strconv.Itoa(int(port)))
		return resolved{portName: portLabel, endpoints: []table.Endpoint{{Address: addr}}}
	}
	if sp == nil {
		return resolved{portName: portLabel, reason: ReasonServicePortNotFound,
			problem: fmt.Sprintf("service %s/%s has no port %s", ns, name, portLabel)}
	}
	eps := t.sliceEndpoints(ns, name, sp)
	r := resolved{portName: portLabel, endpoints: eps}
	if len(eps) == 0 {
		r.problem = fmt.Sprintf("service %s/%s port %s has no ready endpoint", ns, name, portLabel)
	}
	return r
}

// portOfProtocol is svc's port numbered n of protocol proto, nil when none.
func portOfProtocol(svc *corev1.Service, n int32, proto corev1.Protocol) *corev1.ServicePort {
	for i := range svc.Spec.Ports {
		if p := &svc.Spec.Ports[i]; p.Port == n && protocolOf(p) == proto {
			return p
		}
	}
	return nil
}

func protocolOf(p *corev1.ServicePort) corev1.Protocol {
	if p.Protocol == "" {
		return corev1.ProtocolTCP
	}
	return p.Protocol
}

// portLabel names a Service port reference: its name, else its number.
func portLabel(p svcPort) string {
	if p.Name != "" {
		return p.Name
	}
	return strconv.Itoa(int(p.Number))
}

// sliceEndpoints collects the endpoints of a Service port from its slices.
func (t *translator) sliceEndpoints(ns, name string, sp *corev1.ServicePort) []table.Endpoint {
	slices := t.idx.endpointSlices(ns + "/" + name)
	n := 0
	for _, s := range slices {
		n += len(s.Endpoints)
	}
	ready := make([]table.Endpoint, 0, n)
	var serving []table.Endpoint
	for _, s := range slices {
		if s.AddressType == discoveryv1.AddressTypeFQDN && t.opts.DisableExternalName {
			continue // names dialled as written: what --disable-svc-external-name refuses
		}
		port, ok := slicePort(s, sp, t.streamProto == corev1.ProtocolUDP)
		if !ok {
			continue
		}
		portStr := strconv.Itoa(int(port))
		for _, e := range s.Endpoints {
			isReady := e.Conditions.Ready == nil || *e.Conditions.Ready
			isServing := isReady
			if e.Conditions.Serving != nil {
				isServing = *e.Conditions.Serving
			}
			terminating := e.Conditions.Terminating != nil && *e.Conditions.Terminating
			for _, a := range e.Addresses {
				ep := table.Endpoint{Address: hostPort(a, portStr), Terminating: terminating}
				if e.Zone != nil {
					ep.Zone = *e.Zone
				}
				switch {
				case isReady && !terminating:
					ready = append(ready, ep)
				case isServing:
					serving = append(serving, ep)
				}
			}
		}
	}
	out := ready
	if len(out) == 0 {
		out = serving
	}
	return dedupeEndpoints(out)
}

// hostPort is net.JoinHostPort for an address from an EndpointSlice, with
// one allocation.
func hostPort(addr, port string) string {
	if strings.IndexByte(addr, ':') >= 0 {
		return "[" + addr + "]:" + port
	}
	return addr + ":" + port
}

// slicePort finds the slice port that carries a Service port: the one with
// the same name (slices name their ports after the Service's).
func slicePort(s *discoveryv1.EndpointSlice, sp *corev1.ServicePort, udp bool) (int32, bool) {
	want := corev1.ProtocolTCP
	if udp {
		want = corev1.ProtocolUDP // UDP services (tcpservices.go)
	}
	for _, p := range s.Ports {
		if p.Port == nil {
			continue
		}
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if name == sp.Name && proto == want {
			return *p.Port, true
		}
	}
	return 0, false
}

func dedupeEndpoints(eps []table.Endpoint) []table.Endpoint {
	sort.Slice(eps, func(i, j int) bool { return eps[i].Address < eps[j].Address })
	out := eps[:0]
	for i, e := range eps {
		if i > 0 && e.Address == eps[i-1].Address {
			continue
		}
		out = append(out, e)
	}
	return out
}
