package translate

import "weir.dev/weir/proxy/table"

// An Ingress's spec.defaultBackend behaves as in ingress-nginx:
//
//   - An Ingress without rules: its defaultBackend answers every request no
//     rule matches (the table's default action); the oldest such Ingress
//     wins and the others get a problem (setDefault).
//   - An Ingress with rules: its defaultBackend answers the requests to its
//     own hosts that none of their paths matches, as an implicit "Prefix /"
//     route of lowest standing: an explicit "Prefix /" path on the host, from
//     any Ingress, replaces it. It applies only to the hosts this Ingress is
//     the oldest to name (ingress-nginx builds a host's server from the
//     first Ingress that names it); a newer Ingress gets a problem for each
//     host it cannot take. The catch-all host ("") keeps the table's
//     default.

// hostDefault is the implicit fallback route of one host.
type hostDefault struct {
	host  string
	owner *parsed
}

// claimHost records the oldest Ingress that names a host, and makes its
// defaultBackend (if any) the host's fallback.
func (t *translator) claimHost(p *parsed, host string) {
	first, seen := t.hostOwner[host]
	if !seen {
		t.hostOwner[host] = p
		first = p
	}
	db := p.ing.Spec.DefaultBackend
	if db == nil || host == "" {
		return
	}
	p.hostDefault = true
	if first != p {
		t.problem(p, "spec.defaultBackend", ReasonDefaultBackend, Warning,
			"the older %s names host %q first; this defaultBackend does not answer that host's unmatched paths", first.ref, host)
		return
	}
	for _, hd := range t.hostDefaults {
		if hd.host == host {
			return // several rules of this Ingress name the host
		}
	}
	t.hostDefaults = append(t.hostDefaults, hostDefault{host: host, owner: p})
}

// checkUnusedDefault reports a defaultBackend that answers nothing: the
// Ingress has rules, but only for the catch-all host, which keeps the
// table's default (as in ingress-nginx).
func (t *translator) checkUnusedDefault(p *parsed) {
	if p.ing.Spec.DefaultBackend == nil || len(p.ing.Spec.Rules) == 0 || p.hostDefault {
		return
	}
	t.problem(p, "spec.defaultBackend", ReasonDefaultBackend, Warning,
		"has no effect: the rules name no host, and the catch-all host keeps the default of an Ingress without rules")
}

// addHostDefaults adds the implicit "Prefix /" routes of every host whose
// oldest Ingress has a defaultBackend, unless the host has an explicit one.
// It runs after every main Ingress, before the canaries, so a canary "/"
// path pairs with the implicit route too.
func (t *translator) addHostDefaults() {
	for _, hd := range t.hostDefaults {
		if t.routes[conflictKey{hd.host, "/", table.PathPrefix}] != nil {
			continue
		}
		p := hd.owner
		b := t.backendFor(p, plainField("spec.defaultBackend"), p.ing.Spec.DefaultBackend, p.cfg)
		if b == nil {
			continue
		}
		t.addRoute(p, hd.host, plainField("spec.defaultBackend"), table.PathMatch{Type: table.PathPrefix, Value: "/"}, t.action(p, hd.host, b))
	}
}
