package translate

import (
	"slices"

	"weir.dev/weir/annotations"
	"weir.dev/weir/proxy/table"
)

// Problem reasons of the ssl-passthrough annotation.
const (
	ReasonPassthroughDisabled = "SSLPassthroughDisabled"
	ReasonPassthroughNoRoot   = "SSLPassthroughNoRootPath"
	ReasonPassthroughCanary   = "SSLPassthroughCanary"
)

var passthroughField = "metadata.annotations[" + annotations.Prefix + "ssl-passthrough]"

// passthrough collects the hosts whose TLS connections are spliced to a
// backend without termination. As in ingress-nginx, a host takes the
// backend of its "/" path; its other paths, and every other annotation,
// apply only to plain HTTP, and canaries of the host get no passthrough
// connection (they keep their plain-HTTP share). Without
// --enable-ssl-passthrough the annotation is reported and the host is
// served terminated, as if it were absent. The second result lists the
// exact hosts Weir terminates under a passed-through wildcard (terminated).
func (t *translator) passthrough(mains, canaries []*parsed) (map[string]*table.Backend, []string) {
	out := map[string]*table.Backend{}
	for _, p := range mains {
		if !p.cfg.SSLPassthrough {
			continue
		}
		if !t.opts.SSLPassthrough {
			t.problem(p, passthroughField, ReasonPassthroughDisabled, Warning,
				"needs --enable-ssl-passthrough: TLS for the Ingress's hosts is terminated by Weir and routed as HTTP")
			continue
		}
		for ri, rule := range p.ing.Spec.Rules {
			host, ok := normalizeHost(rule.Host)
			if !ok || host == "" || out[host] != nil {
				continue // invalid hosts are reported by addMain; the oldest Ingress keeps a host
			}
			b := t.rootBackend(host, p)
			if b == nil {
				t.problem(p, ruleField(ri).with(".host").String(), ReasonPassthroughNoRoot, Warning,
					"host %s has no \"/\" path of this Ingress leading to a Service: its TLS is terminated by Weir, not passed through", host)
				continue
			}
			out[host] = b
		}
	}
	t.warnPassthroughCanaries(canaries, out)
	if len(out) == 0 {
		return nil, nil
	}
	return out, t.terminated(out)
}

// terminated lists the exact hosts with routes that Weir terminates while
// a passed-through wildcard covers them: an exact host wins over a
// wildcard, as in HTTP routing, whichever Ingress (or namespace) owns each
// (a tenant's "*.example.com" took the TLS connections of every other
// namespace's host under it).
func (t *translator) terminated(pass map[string]*table.Backend) []string {
	var out []string
	for h := range t.hosts {
		if w, ok := wildcardOver(h); ok && pass[w] != nil && pass[h] == nil {
			out = append(out, h)
		}
	}
	slices.Sort(out)
	return out
}

// rootBackend is the main backend of host's "/" route when p owns it.
func (t *translator) rootBackend(host string, p *parsed) *table.Backend {
	for _, pt := range []table.PathType{table.PathPrefix, table.PathExact, table.PathRegex} {
		e := t.routes[conflictKey{host, "/", pt}]
		if e == nil {
			continue
		}
		if e.owner != p || e.route.Action == nil {
			return nil
		}
		return e.route.Action.Split.Main
	}
	return nil
}

func (t *translator) warnPassthroughCanaries(canaries []*parsed, hosts map[string]*table.Backend) {
	for _, p := range canaries {
		for ri, rule := range p.ing.Spec.Rules {
			if host, ok := normalizeHost(rule.Host); ok && hosts[host] != nil {
				t.problem(p, ruleField(ri).with(".host").String(), ReasonPassthroughCanary, Warning,
					"host %s is passed through: its TLS connections all go to the main Ingress's backend, and the canary gets only plain-HTTP requests", host)
			}
		}
	}
}
