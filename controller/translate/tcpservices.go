package translate

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"weir.dev/weir/proxy/stream"
)

// Problem reasons of the TCP services ConfigMap (--tcp-services-configmap).
const (
	ReasonInvalidTCPService = "InvalidTCPService"
	ReasonTCPServiceBackend = "TCPServiceBackend"
	// The same for --udp-services-configmap.
	ReasonInvalidUDPService = "InvalidUDPService"
	ReasonUDPServiceBackend = "UDPServiceBackend"
)

// streamKind is what differs between the TCP and UDP services ConfigMaps.
type streamKind struct {
	parse            func(map[string]string, []int) ([]TCPServiceEntry, []TCPServiceProblem)
	invalid, backend string // problem reasons
}

var (
	tcpKind = streamKind{ParseTCPServices, ReasonInvalidTCPService, ReasonTCPServiceBackend}
	udpKind = streamKind{ParseUDPServices, ReasonInvalidUDPService, ReasonUDPServiceBackend}
)

// TCPServiceEntry is one valid entry of ingress-nginx's TCP services
// ConfigMap: key "<external port>", value
// "<namespace>/<service>:<port name or number>[:PROXY[:PROXY]]".
type TCPServiceEntry struct {
	ExternalPort       int
	Namespace, Service string
	Port               svcPort
	// DecodeProxy is the first PROXY: clients send a PROXY protocol
	// header; EncodeProxy the second: Weir sends one to the endpoint.
	DecodeProxy, EncodeProxy bool
}

// TCPServiceProblem is an entry refused by ParseTCPServices.
type TCPServiceProblem struct{ Key, Message string }

// ParseTCPServices reads a TCP services ConfigMap's data, sorted by port.
// An invalid entry is left out with a problem; the others stand. Ports in
// reserved (Weir's own listeners) are refused.
func ParseTCPServices(data map[string]string, reserved []int) ([]TCPServiceEntry, []TCPServiceProblem) {
	return parseStreamServices(data, reserved, true)
}

// ParseUDPServices reads a UDP services ConfigMap (--udp-services-configmap),
// the same format without PROXY (the PROXY protocol is TCP's).
func ParseUDPServices(data map[string]string, reserved []int) ([]TCPServiceEntry, []TCPServiceProblem) {
	return parseStreamServices(data, reserved, false)
}

func parseStreamServices(data map[string]string, reserved []int, tcp bool) ([]TCPServiceEntry, []TCPServiceProblem) {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []TCPServiceEntry
	var ps []TCPServiceProblem
	for _, k := range keys {
		e, err := parseTCPService(k, data[k], reserved, tcp)
		if err != nil {
			ps = append(ps, TCPServiceProblem{Key: k, Message: err.Error()})
			continue
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b TCPServiceEntry) int { return a.ExternalPort - b.ExternalPort })
	return out, ps
}

func parseTCPService(key, value string, reserved []int, tcp bool) (TCPServiceEntry, error) {
	var e TCPServiceEntry
	port, err := strconv.Atoi(key)
	if err != nil || port < 1 || port > 65535 || strconv.Itoa(port) != key {
		return e, fmt.Errorf("key %s is not a port number (1-65535); entry ignored", strconv.Quote(shorten(key)))
	}
	if slices.Contains(reserved, port) {
		return e, fmt.Errorf("port %d is one of Weir's own listeners; entry ignored", port)
	}
	e.ExternalPort = port
	parts := strings.Split(value, ":")
	if len(parts) < 2 || len(parts) > 4 {
		return e, fmt.Errorf("value %s: want namespace/service:port[:PROXY][:PROXY]; entry ignored", strconv.Quote(shorten(value)))
	}
	ns, name, ok := strings.Cut(parts[0], "/")
	if !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1035Label(name)) > 0 {
		return e, fmt.Errorf("value %s: %s is not namespace/service; entry ignored", strconv.Quote(shorten(value)), strconv.Quote(shorten(parts[0])))
	}
	e.Namespace, e.Service = ns, name
	if n, err := strconv.Atoi(parts[1]); err == nil && strconv.Itoa(n) == parts[1] && n >= 1 && n <= 65535 {
		e.Port.Number = int32(n)
	} else if len(validation.IsValidPortName(parts[1])) == 0 {
		e.Port.Name = parts[1]
	} else {
		return e, fmt.Errorf("value %s: %s is not a port number or name; entry ignored", strconv.Quote(shorten(value)), strconv.Quote(shorten(parts[1])))
	}
	for i, flag := range parts[2:] {
		switch {
		case strings.EqualFold(flag, "PROXY") && !tcp:
			return e, fmt.Errorf("value %s: the PROXY protocol is for TCP services only; entry ignored", strconv.Quote(shorten(value)))
		case strings.EqualFold(flag, "PROXY"):
			if i == 0 {
				e.DecodeProxy = true
			} else {
				e.EncodeProxy = true
			}
		case flag != "":
			return e, fmt.Errorf("value %s: %s is neither PROXY nor empty; entry ignored", strconv.Quote(shorten(value)), strconv.Quote(shorten(flag)))
		}
	}
	return e, nil
}

func shorten(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// streamServices resolves the TCP and UDP services ConfigMaps' entries
// (tcpservices.go's hook in Translate).
func (t *translator) streamServices(in *Inputs, res *Result) {
	res.tcpUses = map[string]bool{}
	t.streamProto = corev1.ProtocolTCP
	res.TCPServices = t.tcpServices(in.TCPServices, tcpKind, res.tcpUses)
	t.streamProto = corev1.ProtocolUDP // the Services' and slices' UDP ports
	res.UDPServices = t.tcpServices(in.UDPServices, udpKind, res.tcpUses)
	t.streamProto = ""
}

// tcpServices resolves a services ConfigMap's entries to endpoints (uses
// records the Services, for Refresh). Entries whose Service or port cannot
// be resolved are served with no endpoint (their connections are closed,
// their datagrams dropped) and reported.
func (t *translator) tcpServices(cm *corev1.ConfigMap, kind streamKind, uses map[string]bool) []stream.Service {
	if cm == nil {
		return nil
	}
	ref := ObjectRef{Kind: "ConfigMap", Namespace: cm.Namespace, Name: cm.Name}
	entries, ps := kind.parse(cm.Data, t.opts.ReservedPorts)
	for _, p := range ps {
		t.problemAt(ref, "data["+shorten(p.Key)+"]", kind.invalid, Warning, "%s", p.Message)
	}
	var out []stream.Service
	for _, e := range entries {
		r := t.resolve(e.Namespace, e.Service, e.Port)
		if r.problem != "" {
			t.problemAt(ref, "data["+strconv.Itoa(e.ExternalPort)+"]", kind.backend, Warning,
				"%s: traffic to port %d is refused until it has one", r.problem, e.ExternalPort)
		}
		addrs := make([]string, 0, len(r.endpoints))
		for _, ep := range r.endpoints {
			addrs = append(addrs, ep.Address)
		}
		out = append(out, stream.Service{Port: e.ExternalPort,
			Target:      stream.Target{Name: e.Namespace + "/" + e.Service + ":" + r.portName, Addrs: addrs},
			DecodeProxy: e.DecodeProxy, EncodeProxy: e.EncodeProxy})
		uses[e.Namespace+"/"+e.Service] = true
	}
	return out
}

// tcpServicesUse reports whether a TCP or UDP service uses one of the changed
// Services: Refresh then declines, so the endpoints are resolved afresh.
func tcpServicesUse(prev *Result, changed map[string]bool) bool {
	for k := range changed {
		if prev.tcpUses[k] {
			return true
		}
	}
	return false
}
