package translate

import (
	"fmt"
	"net/http"
	"reflect"
	"strconv"
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
		a.HSTS = t.hsts()
	}
	ac := t.applyAccess(p, a)
	if a.Respond == nil && cfg.Redirect != nil {
		a.Redirect = &table.Redirect{Status: cfg.Redirect.Status, URL: cfg.Redirect.URL}
	}
	t.askClientCert(host, ac.client)
	t.addHeaders(a, ac.custom) // headers.go
	a.MaxBodyBytes = cfg.ProxyBodySize
	a.HostRewrite = cfg.UpstreamVhost
	if cfg.RewriteTarget != "" {
		a.Rewrite = &table.Rewrite{Target: cfg.RewriteTarget, ForwardedPrefix: cfg.XForwardedPrefix}
	}
	t.addExtras(p, a)
	return a
}

// applyAccess gives a the Ingress's access checks: source ranges, CORS,
// rate limits, authentication and client certificates, or a 503 when one
// cannot be enforced as configured (fail closed).
func (t *translator) applyAccess(p *parsed, a *table.Action) *accessChecks {
	cfg := p.cfg
	ac := t.accessChecks(p)
	if cfg.DenyAll || ac.deny {
		a.Respond = &table.Respond{Status: http.StatusServiceUnavailable, Body: "service unavailable"}
	}
	a.SourceAllow, a.SourceDeny = cfg.AllowSourceRange, cfg.DenySourceRange
	a.CORS, a.RateLimit, a.BasicAuth, a.ExternalAuth = ac.cors, ac.limit, ac.basic, ac.external
	a.ClientCert = ac.client
	return ac
}

// hasTLS reports whether a host is covered by some Ingress's spec.tls. A
// wildcard covers the hosts its own Ingress names (collectTLS), never those
// of other Ingresses.
func (t *translator) hasTLS(host string) bool {
	return t.tlsHosts[host]
}

// balanceOwner remembers which Ingress set a Service port's upstream-level
// settings first.
type balanceOwner struct {
	owner  *parsed
	policy table.BalancePolicy
}

// backendFor resolves an Ingress backend with the location settings of cfg.
// A Resource backend is not supported (problem, nil).
func (t *translator) backendFor(p *parsed, field fieldRef, ib *networkingv1.IngressBackend, cfg *annotations.Config) *table.Backend {
	return t.backend(p, field, ib, cfg, p.cfg, t.accessChecks(p).upTLS)
}

// canaryFor builds the canary of a route from a canary Ingress: the
// canary's own backend with the main route's location settings, its
// proxy-ssl-* included (ingress-nginx serves the canary from the main
// Ingress's location, so the canary Ingress's own are ignored).
func (t *translator) canaryFor(p *parsed, field fieldRef, ib *networkingv1.IngressBackend, main *parsed) *table.Canary {
	b := t.backend(p, field, ib, main.cfg, p.cfg, t.accessChecks(main).upTLS)
	if b == nil {
		return nil
	}
	c := p.cfg.Canary
	return &table.Canary{Backend: b, Ingress: p.ing.Name, Header: c.Header, HeaderValue: c.HeaderValue, HeaderPattern: c.HeaderPattern,
		Cookie: c.Cookie, Weight: c.Weight, WeightTotal: c.WeightTotal, Legacy: c.Legacy}
}

// backend returns the (shared) table backend for a Service port with the
// location settings of loc (upTLS: its proxy-ssl-*) and the upstream
// settings of up.
func (t *translator) backend(p *parsed, field fieldRef, ib *networkingv1.IngressBackend, loc, up *annotations.Config, upTLS *backendTLSSpec) *table.Backend {
	if ib.Resource != nil || ib.Service == nil {
		t.problem(p, field.String(), ReasonResourceBackend, Warning, "only Service backends are supported; path ignored")
		return nil
	}
	ns := p.ing.Namespace
	portLabel := ib.Service.Port.Name
	if portLabel == "" {
		portLabel = strconv.Itoa(int(ib.Service.Port.Number))
	}
	svcPort := ns + "/" + ib.Service.Name + ":" + portLabel
	policy := t.upstreamPolicy(p, field, svcPort, up)
	key := backendKey{svcPort: svcPort, proto: protocol(loc.BackendProtocol), timeouts: loc.Timeouts,
		retry: retryPolicy(loc.NextUpstream), policy: policy.Kind, health: up.HealthCheck}
	bt := t.upstreamTLS(p, upTLS, field, ns, ib.Service.Name, key.proto)
	if bt != nil {
		key.tls = bt.Key
	}
	if len(policy.HashKey) > 0 || policy.Affinity != nil {
		key.policyDetail = policyKey(policy)
	}
	e := t.backends[key]
	if e == nil {
		e = t.newBackend(ns, ib.Service, portLabel, key, policy)
		e.backend.TLS = bt
		t.backends[key] = e
	}
	if e.res.reason != "" {
		t.problem(p, field.with(".service").String(), e.res.reason, Warning, "%s; requests get 503", e.res.problem)
	} else if e.res.problem != "" {
		t.problem(p, field.with(".service").String(), ReasonNoReadyEndpoints, Warning, "%s; requests get 503 until one is ready", e.res.problem)
	}
	return e.backend
}

// backendKey identifies a shared table backend: a Service port with one set
// of location and upstream settings.
type backendKey struct {
	svcPort      string
	proto        table.Protocol
	timeouts     annotations.Timeouts
	retry        table.RetryPolicy
	policy       table.BalanceKind
	policyDetail string
	health       annotations.HealthCheck
	tls          string // table.BackendTLS.Key of proxy-ssl-*
}

// backendEntry is a built backend and how its Service port resolved.
type backendEntry struct {
	backend *table.Backend
	res     resolved
}

func (t *translator) newBackend(ns string, sb *networkingv1.IngressServiceBackend, portLabel string, k backendKey, policy table.BalancePolicy) *backendEntry {
	res := t.resolve(ns, sb.Name, ingressPort(sb.Port))
	b := &table.Backend{
		Name: k.svcPort, Namespace: ns, Service: sb.Name, Port: portLabel,
		Endpoints: res.endpoints, Protocol: k.proto, Balance: policy, Problem: res.problem,
		Timeouts: table.Timeouts{Connect: k.timeouts.Connect, Send: k.timeouts.Send, Read: k.timeouts.Read},
		Retry:    k.retry,
		Passive:  table.PassiveHealth{MaxFails: defaultMaxFails, Ejection: defaultEjection},
		Health:   table.HealthCheck{Path: k.health.Path, Interval: k.health.Interval, Timeout: k.health.Timeout},
	}
	return &backendEntry{backend: b, res: res}
}

// upstreamPolicy applies the oldest Ingress's load-balance, upstream-hash-by
// and affinity to a Service port; a later Ingress that disagrees gets a
// problem.
func (t *translator) upstreamPolicy(p *parsed, field fieldRef, svcPort string, cfg *annotations.Config) table.BalancePolicy {
	policy := balancePolicy(cfg)
	prev, ok := t.balance[svcPort]
	if !ok {
		t.balance[svcPort] = balanceOwner{owner: p, policy: policy}
		return policy
	}
	if prev.owner != p && !p.canary && !samePolicy(prev.policy, policy) {
		t.problem(p, field.String(), ReasonBackendSettings, Warning, "the older %s sets other load-balancing or affinity for %s; its settings apply",
			prev.owner.ref, svcPort)
	}
	if p.canary {
		return policy
	}
	return prev.policy
}

func samePolicy(a, b table.BalancePolicy) bool {
	return a.Kind == b.Kind && reflect.DeepEqual(a.HashKey, b.HashKey) && reflect.DeepEqual(a.Affinity, b.Affinity)
}

func policyKey(p table.BalancePolicy) string {
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
	case "sed":
		bp.Kind = table.SED
	case "nq":
		bp.Kind = table.NQ
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
