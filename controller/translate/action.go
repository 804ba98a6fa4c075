package translate

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	networkingv1 "k8s.io/api/networking/v1"

	"weir.dev/weir/annotations"
	"weir.dev/weir/proxy/table"
)

// HSTS is the Strict-Transport-Security value of TLS hosts: ingress-nginx's
// defaults (one year, subdomains included, no preload).
const HSTS = "max-age=31536000; includeSubDomains"

// Passive health defaults: three consecutive connection failures take an
// endpoint out for ten seconds.
const (
	defaultMaxFails = 3
	defaultEjection = 10 * time.Second
)

// action is the forwarding action of a main route.
func (t *translator) action(p *parsed, host string, b *table.Backend) *table.Action {
	cfg := p.cfg
	a := &table.Action{Split: table.Split{Main: b}}
	tlsHost := t.hasTLS(host)
	a.SSLRedirect = cfg.ForceSSLRedirect || (tlsHost && cfg.SSLRedirect)
	if tlsHost {
		a.HSTS = HSTS
	}
	switch {
	case cfg.DenyAll:
		a.Respond = &table.Respond{Status: http.StatusServiceUnavailable, Body: "service unavailable"}
	case cfg.Redirect != nil:
		a.Redirect = &table.Redirect{Status: cfg.Redirect.Status, URL: cfg.Redirect.URL}
	}
	a.SourceAllow, a.SourceDeny = cfg.AllowSourceRange, cfg.DenySourceRange
	a.MaxBodyBytes = cfg.ProxyBodySize
	a.HostRewrite = cfg.UpstreamVhost
	if cfg.RewriteTarget != "" {
		a.Rewrite = &table.Rewrite{Target: cfg.RewriteTarget, ForwardedPrefix: cfg.XForwardedPrefix}
	}
	return a
}

// hasTLS reports whether a host is covered by some Ingress's spec.tls.
func (t *translator) hasTLS(host string) bool {
	if t.tlsHosts[host] {
		return true
	}
	if i := strings.IndexByte(host, '.'); i > 0 && !strings.HasPrefix(host, "*.") {
		return t.tlsHosts["*"+host[i:]]
	}
	return false
}

// balanceOwner remembers which Ingress set a Service port's upstream-level
// settings first.
type balanceOwner struct {
	owner  *parsed
	policy keyedPolicy
}

// backendFor resolves an Ingress backend with the location settings of cfg.
// A Resource backend is not supported (problem, nil).
func (t *translator) backendFor(p *parsed, field string, ib *networkingv1.IngressBackend, cfg *annotations.Config) *table.Backend {
	return t.backend(p, field, ib, cfg, p.cfg)
}

// canaryFor builds the canary of a route from a canary Ingress: the
// canary's own backend with the main route's location settings.
func (t *translator) canaryFor(p *parsed, field string, ib *networkingv1.IngressBackend, main *parsed) *table.Canary {
	b := t.backend(p, field, ib, main.cfg, p.cfg)
	if b == nil {
		return nil
	}
	c := p.cfg.Canary
	return &table.Canary{Backend: b, Header: c.Header, HeaderValue: c.HeaderValue, HeaderPattern: c.HeaderPattern,
		Cookie: c.Cookie, Weight: c.Weight, WeightTotal: c.WeightTotal, Legacy: c.Legacy}
}

// backend returns the (shared) table backend for a Service port with the
// location settings of loc and the upstream settings of up. Backends are
// shared by pointer per Service port and settings; the cache is consulted
// before the Service is resolved, so a shared backend costs one map lookup.
func (t *translator) backend(p *parsed, field string, ib *networkingv1.IngressBackend, loc, up *annotations.Config) *table.Backend {
	if ib.Resource != nil || ib.Service == nil {
		t.problem(p, field, ReasonResourceBackend, Warning, "only Service backends are supported; path ignored")
		return nil
	}
	ns := p.ing.Namespace
	portName := portLabel(ib.Service.Port)
	svcPort := ns + "/" + ib.Service.Name + ":" + portName
	policy, pkey := t.upstreamPolicy(p, field, svcPort, up)
	key := svcPort + "|" + t.locationKey(loc) + "|" + pkey
	if b := t.backends[key]; b != nil {
		return b
	}
	res := t.resolve(ns, ib.Service)
	if res.reason != "" {
		t.problem(p, field+".service", res.reason, Warning, "%s; requests get 503", res.problem)
	} else if res.problem != "" {
		t.problem(p, field+".service", ReasonNoReadyEndpoints, Warning, "%s; requests get 503 until one is ready", res.problem)
	}
	b := &table.Backend{
		Name: svcPort, Namespace: ns, Service: ib.Service.Name, Port: portName,
		Endpoints: res.endpoints, Protocol: protocol(loc.BackendProtocol), Balance: policy, Problem: res.problem,
		Timeouts: table.Timeouts{Connect: loc.Timeouts.Connect, Send: loc.Timeouts.Send, Read: loc.Timeouts.Read},
		Retry:    retryPolicy(loc.NextUpstream),
		Passive:  table.PassiveHealth{MaxFails: defaultMaxFails, Ejection: defaultEjection},
	}
	t.backends[key] = b
	return b
}

// locationKey is the part of a backend's identity that comes from location
// annotations, computed once per parsed annotation set.
func (t *translator) locationKey(cfg *annotations.Config) string {
	if k, ok := t.locKeys[cfg]; ok {
		return k
	}
	k := fmt.Sprintf("%d|%v|%v", protocol(cfg.BackendProtocol), cfg.Timeouts, cfg.NextUpstream)
	t.locKeys[cfg] = k
	return k
}

// policyFor is the balancing policy of an annotation set and its key,
// computed once per parsed annotation set.
func (t *translator) policyFor(cfg *annotations.Config) keyedPolicy {
	if kp, ok := t.policies[cfg]; ok {
		return kp
	}
	bp := balancePolicy(cfg)
	kp := keyedPolicy{policy: bp, key: policyKey(bp)}
	t.policies[cfg] = kp
	return kp
}

// keyedPolicy is a balancing policy with its comparison key.
type keyedPolicy struct {
	policy table.BalancePolicy
	key    string
}

// upstreamPolicy applies the oldest Ingress's load-balance, upstream-hash-by
// and affinity to a Service port; a later Ingress that disagrees gets a
// problem. A canary keeps its own (CANARY.md section 1).
func (t *translator) upstreamPolicy(p *parsed, field, svcPort string, cfg *annotations.Config) (table.BalancePolicy, string) {
	kp := t.policyFor(cfg)
	prev, ok := t.balance[svcPort]
	if !ok {
		t.balance[svcPort] = balanceOwner{owner: p, policy: kp}
		return kp.policy, kp.key
	}
	if prev.owner != p && !p.canary && prev.policy.key != kp.key {
		t.problem(p, field, ReasonBackendSettings, Warning, "the older %s sets other load-balancing or affinity for %s; its settings apply",
			prev.owner.ref, svcPort)
	}
	if p.canary {
		return kp.policy, kp.key
	}
	return prev.policy.policy, prev.policy.key
}

func policyKey(p table.BalancePolicy) string {
	if p.Affinity == nil && len(p.HashKey) == 0 {
		return strconv.Itoa(int(p.Kind))
	}
	s := fmt.Sprintf("%d|%v", p.Kind, p.HashKey)
	if p.Affinity != nil {
		s += fmt.Sprintf("|%+v", *p.Affinity)
	}
	return s
}

func balancePolicy(cfg *annotations.Config) table.BalancePolicy {
	var bp table.BalancePolicy
	switch cfg.LoadBalance {
	case "round_robin":
		bp.Kind = table.RoundRobin
	case "ewma":
		bp.Kind = table.EWMA
	default:
		bp.Kind = table.LeastConn
	}
	if len(cfg.UpstreamHashBy) > 0 {
		bp.Kind = table.Hash
		for _, kp := range cfg.UpstreamHashBy {
			bp.HashKey = append(bp.HashKey, table.KeyPart{Kind: keyKinds[kp.Kind], Name: kp.Name})
		}
	}
	if a := cfg.Affinity; a != nil {
		bp.Affinity = &table.Affinity{CookieName: a.CookieName, Path: a.Path, Domain: a.Domain, MaxAge: a.MaxAge,
			Secure: a.Secure, SameSite: sameSite(a.SameSite), ChangeOnFailure: a.ChangeOnFailure}
	}
	return bp
}

var keyKinds = map[annotations.KeyPartKind]table.KeyPartKind{
	annotations.KeyLiteral: table.KeyLiteral, annotations.KeyRequestURI: table.KeyRequestURI,
	annotations.KeyURI: table.KeyURI, annotations.KeyRemoteAddr: table.KeyRemoteAddr,
	annotations.KeyHost: table.KeyHost, annotations.KeyHeader: table.KeyHeader,
	annotations.KeyCookie: table.KeyCookie, annotations.KeyArg: table.KeyArg,
}

func sameSite(s string) http.SameSite {
	switch s {
	case "None":
		return http.SameSiteNoneMode
	case "Lax":
		return http.SameSiteLaxMode
	case "Strict":
		return http.SameSiteStrictMode
	}
	return http.SameSiteDefaultMode
}

func protocol(p annotations.Protocol) table.Protocol {
	switch p {
	case annotations.ProtocolHTTPS:
		return table.HTTPS
	case annotations.ProtocolGRPC:
		return table.GRPC
	case annotations.ProtocolGRPCS:
		return table.GRPCS
	case annotations.ProtocolH2C:
		return table.H2C
	}
	return table.HTTP1
}

var retryConditions = map[string]table.RetryOn{
	"error": table.RetryError, "timeout": table.RetryTimeout, "invalid_header": table.RetryInvalidHeader,
	"http_500": table.Retry500, "http_502": table.Retry502, "http_503": table.Retry503, "http_504": table.Retry504,
	"http_403": table.Retry403, "http_404": table.Retry404, "http_429": table.Retry429, "non_idempotent": table.RetryNonIdempotent,
}

func retryPolicy(n annotations.NextUpstream) table.RetryPolicy {
	var on table.RetryOn
	for _, c := range n.On {
		on |= retryConditions[c]
	}
	tries := n.Tries
	if on == 0 {
		tries = 1
	}
	return table.RetryPolicy{On: on, Tries: tries, Timeout: n.Timeout}
}
