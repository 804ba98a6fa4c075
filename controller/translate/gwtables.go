package translate

import (
	"sort"
	"strings"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"weir.dev/weir/proxy/table"
	weirtls "weir.dev/weir/tls"
)

// How a Gateway port's table is laid out. A request picks one host entry
// (exact, then the longest wildcard, then the catch-all), and each entry
// holds exactly the routes that may serve it:
//
//   - the listener that serves a host is the most specific listener of the
//     port whose hostname matches it; only routes attached to that listener
//     serve it (listener isolation), so every listener hostname is an
//     entry even without routes, and a request for it never falls through
//     to a less specific listener;
//   - within that listener, a route whose own (intersected) hostname
//     matches more specifically comes first (Route.HostRank), then the
//     match precedence of compareRoutes.
//
// The entries are the listener hostnames and every hostname a route serves;
// each entry copies the routes of its listener whose hostname covers it.

// buildListeners builds one GatewayListener per port of a Gateway that has
// a programmed listener.
func (g *gw) buildListeners(gg *gwGateway) []*GatewayListener {
	var ports []gatewayv1.PortNumber
	byPort := map[gatewayv1.PortNumber][]*gwListener{}
	for _, l := range gg.listeners {
		if !l.programmed() {
			continue
		}
		if byPort[l.l.Port] == nil {
			ports = append(ports, l.l.Port)
		}
		byPort[l.l.Port] = append(byPort[l.l.Port], l)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i] < ports[j] })
	out := make([]*GatewayListener, 0, len(ports))
	for _, port := range ports {
		ls := byPort[port]
		gl := &GatewayListener{Gateway: gg.ref, Port: int32(port), Protocol: ls[0].l.Protocol}
		for _, l := range ls {
			gl.Listeners = append(gl.Listeners, l.l.Name)
			if gl.Protocol != gatewayv1.HTTPSProtocolType {
				continue
			}
			if l.clientCAs != nil { // the same for every listener of the port
				gl.ClientCAs, gl.ClientCertOptional = l.clientCAs.pool, l.clientCAs.insecure
			}
			if gl.CertificateSecrets == nil {
				gl.CertificateSecrets = map[string]ObjectRef{}
			}
			gl.CertificateSecrets[l.hostname] = l.certRef
			if l.hostname == "" {
				gl.DefaultCertificate = l.cert
				continue
			}
			if gl.Certificates == nil {
				gl.Certificates = map[string]*weirtls.Certificate{}
			}
			gl.Certificates[l.hostname] = l.cert
		}
		gl.Table = g.portTable(gg, ls, int32(port))
		out = append(out, gl)
	}
	return out
}

// hostRules are the rules a listener serves for one route hostname.
type hostRules struct {
	host  string
	rank  int
	rules []*gwRule
}

// portTable builds the table of one port's listeners.
func (g *gw) portTable(gg *gwGateway, ls []*gwListener, port int32) *table.Table {
	keys := map[string]bool{}
	byListener := make(map[*gwListener][]hostRules, len(ls))
	for _, l := range ls {
		keys[l.hostname] = true
		byListener[l] = hostsOf(l, keys)
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	tb := &tableBackends{g: g, gg: gg, by: map[backendSpec]*table.Backend{}}
	var routes []*table.Route
	for _, k := range names {
		l := listenerFor(ls, k)
		if l == nil {
			continue
		}
		for _, hr := range byListener[l] { // most specific hostname first
			if !hostCovers(hr.host, k) {
				continue
			}
			for _, rule := range hr.rules {
				if rule.placedIn == tb && rule.placedAt == k {
					continue // the route has a more specific hostname for k
				}
				rule.placedIn, rule.placedAt = tb, k
				if rule.actionIn != tb {
					rule.action1, rule.actionIn = rule.actionFor(tb, port), tb
				}
				routes = g.placeRule(routes, rule, k, hr.rank, rule.action1)
			}
		}
	}
	t, err := table.NewWithOptions(g.generation, routes, nil, table.Options{GatewayHosts: true, Hosts: names})
	if err != nil {
		g.problemAt(gg.ref, "spec.listeners", "TableBuildFailed", Error, "port %d: %v", port, err)
		t, _ = table.NewWithOptions(g.generation, nil, nil, table.Options{GatewayHosts: true, Hosts: names})
	}
	return t
}

// hostsOf groups the rules of a listener's routes by the hostname
// they serve there, most specific first, and adds the hostnames to keys.
func hostsOf(l *gwListener, keys map[string]bool) []hostRules {
	var out []hostRules
	var index map[string]int // used once there are many hostnames
	find := func(h string) int {
		if index != nil {
			if i, ok := index[h]; ok {
				return i
			}
		} else {
			for i := range out {
				if out[i].host == h {
					return i
				}
			}
		}
		keys[h] = true
		out = append(out, hostRules{host: h, rank: hostRank(h)})
		if index == nil && len(out) > 16 {
			index = make(map[string]int, 2*len(out))
			for i := range out {
				index[out[i].host] = i
			}
		} else if index != nil {
			index[h] = len(out) - 1
		}
		return len(out) - 1
	}
	for _, r := range l.attached {
		for _, p := range r.parents {
			for _, at := range p.attached {
				if at.l != l {
					continue
				}
				for _, h := range at.hosts {
					i := find(h)
					out[i].rules = append(out[i].rules, r.rules...)
				}
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].rank > out[j].rank })
	return out
}

// placeRule adds a rule's matches under host k.
func (g *gw) placeRule(routes []*table.Route, rule *gwRule, k string, rank int, a *table.Action) []*table.Route {
	r := rule.route
	for i := range rule.matches {
		// The first placement takes the templates themselves; later ones
		// (another host or port) copy them.
		rt := &rule.matches[i]
		if rule.placed {
			cp := *rt
			rt = &cp
		}
		rt.Host, rt.HostRank, rt.Action = k, rank, a
		rt.Source = table.Source{Kind: r.kind, Namespace: r.ref.Namespace, Name: r.ref.Name}
		routes = append(routes, rt)
	}
	rule.placed = true
	return routes
}

// listenerFor is the most specific listener whose hostname covers host.
func listenerFor(ls []*gwListener, host string) *gwListener {
	var best *gwListener
	bestRank := -1
	for _, l := range ls {
		if !hostCovers(l.hostname, host) {
			continue
		}
		if r := hostRank(l.hostname); r > bestRank {
			best, bestRank = l, r
		}
	}
	return best
}

// hostRank orders hostnames by specificity: exact names above wildcards,
// longer above shorter, "" last.
func hostRank(h string) int {
	if h == "" {
		return 0
	}
	if strings.HasPrefix(h, "*.") {
		return len(h)
	}
	return 1<<20 + len(h)
}
