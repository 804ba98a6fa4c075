package translate

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"weir.dev/weir/annotations"
	"weir.dev/weir/proxy/auth"
	"weir.dev/weir/proxy/cors"
	"weir.dev/weir/proxy/ratelimit"
	weirtls "weir.dev/weir/tls"
)

// Problem reasons of the access annotations.
const (
	ReasonAuthSecretNotFound = "AuthSecretNotFound"
	ReasonInvalidAuthSecret  = "InvalidAuthSecret"
	ReasonUnsafeAuthURL      = "UnsafeAuthURL"
)

// accessChecks are an Ingress's CORS, rate-limit and authentication checks,
// built once per Ingress and shared by its routes. deny closes every path
// (503): an authentication Weir cannot enforce as configured.
type accessChecks struct {
	cors     *cors.Policy
	limit    *ratelimit.Limiter
	basic    *auth.Basic
	external *auth.External
	client   *weirtls.ClientAuth
	upTLS    *backendTLSSpec           // proxy-ssl-* (backendtls.go)
	custom   []annotations.HeaderField // custom-headers (headers.go)
	deny     bool
}

var noAccessChecks = &accessChecks{}

func (t *translator) accessChecks(p *parsed) *accessChecks {
	if p.access != nil {
		return p.access
	}
	cfg := p.cfg
	if cfg.CORS == nil && cfg.RateLimit == nil && cfg.BasicAuth == nil && cfg.ExternalAuth == nil && cfg.ClientCert == nil && cfg.BackendTLS == nil && cfg.CustomHeaders == nil {
		p.access = noAccessChecks
		return p.access
	}
	ac := &accessChecks{}
	if c := cfg.CORS; c != nil {
		ac.cors = cors.New(cors.Config{AllowOrigins: c.AllowOrigins, AllowMethods: c.AllowMethods, AllowHeaders: c.AllowHeaders,
			ExposeHeaders: c.ExposeHeaders, AllowCredentials: c.AllowCredentials, MaxAge: c.MaxAge})
	}
	if l := cfg.RateLimit; l != nil {
		id := fmt.Sprintf("Ingress %s/%s %s", p.ing.Namespace, p.ing.Name, p.ing.UID)
		ac.limit = ratelimit.Shared(id, ratelimit.Config{RPS: l.RPS, RPM: l.RPM, Connections: l.Connections,
			BurstMultiplier: l.BurstMultiplier, Allowlist: l.Allowlist,
			RateBytes: int64(l.RateKB) << 10, RateAfterBytes: int64(l.RateAfterKB) << 10})
	}
	if e := cfg.ExternalAuth; e != nil {
		ac.external = t.externalAuth(p, e)
		ac.deny = ac.external == nil
	}
	var ok bool
	if ac.custom, ok = t.customHeaders(p); !ok {
		ac.deny = true
	}
	if b := cfg.BasicAuth; b != nil {
		ac.basic = t.basicAuth(p, b)
		ac.deny = ac.deny || ac.basic == nil
	}
	if cc := cfg.ClientCert; cc != nil {
		ac.client = t.clientCert(p, cc)
		ac.deny = ac.deny || ac.client == nil
	}
	if bt := cfg.BackendTLS; bt != nil {
		ac.upTLS = t.backendTLS(p, bt)
		ac.deny = ac.deny || ac.upTLS == nil
	}
	p.access = ac
	return ac
}

// externalAuth builds auth-url's check; nil (a problem reported) closes the
// paths.
func (t *translator) externalAuth(p *parsed, e *annotations.ExternalAuth) *auth.External {
	set, ok := t.authSetHeaders(p, e) // headers.go
	if t.anyHostAuth(p, e.URL) || !ok {
		return nil
	}
	return auth.NewExternal(auth.ExternalConfig{URL: e.URL, Method: e.Method, SignIn: e.SignIn,
		SignInRedirectParam: e.SignInRedirectParam, ResponseHeaders: e.ResponseHeaders,
		RequestRedirect: e.RequestRedirect, AlwaysSetCookie: e.AlwaysSetCookie,
		CacheKey: e.CacheKey, CacheRules: e.CacheRules, SetHeaders: set})
}

// anyHostAuth reports (as a problem) an auth-url whose host comes from the
// request's Host header on an Ingress that serves every host (a rule
// without host, or spec.defaultBackend): any client
// could then name its own auth service and let itself in.
func (t *translator) anyHostAuth(p *parsed, authURL string) bool {
	rest := authURL[strings.Index(authURL, "://")+3:]
	authority, _, _ := strings.Cut(rest, "/")
	if !strings.Contains(authority, "$host") && !strings.Contains(authority, "$http_host") && !strings.Contains(authority, "$best_http_host") {
		return false
	}
	anyHost := p.ing.Spec.DefaultBackend != nil
	for _, r := range p.ing.Spec.Rules {
		anyHost = anyHost || r.Host == ""
	}
	if anyHost {
		t.problem(p, "metadata.annotations["+annotations.Prefix+"auth-url]", ReasonUnsafeAuthURL, Error,
			"the auth service's host comes from the request's Host header, and the Ingress serves every host: a client could name its own auth service; every path of the Ingress answers 503")
	}
	return anyHost
}

// basicAuth reads the users of auth-secret. A Secret in another namespace,
// missing, or without the key "auth" (auth-file) is a problem and nil: the
// caller closes the paths. Invalid lines are reported and left out.
func (t *translator) basicAuth(p *parsed, b *annotations.BasicAuth) *auth.Basic {
	field := "metadata.annotations[" + annotations.Prefix + "auth-secret]"
	s, ref := t.ownSecret(p, field, b.SecretNamespace, b.SecretName, ReasonAuthSecretNotFound, ReasonInvalidAuthSecret)
	if s == nil {
		return nil
	}
	var a *auth.Basic
	var n int
	var errs []auth.LineError
	data, ok := secretFile(s, b.SecretType)
	switch {
	case !ok:
		t.problem(p, field, ReasonInvalidAuthSecret, Error, "Secret %s: no key \"auth\" (an htpasswd or htdigest file); every path of the Ingress answers 503", ref)
		return nil
	case b.Digest:
		var users map[string][]byte
		users, errs = auth.ParseHtdigest(data, b.Realm)
		a, n = auth.NewDigest(users, b.Realm, "Secret "+ref), len(users)
	default:
		var users map[string]auth.Hash
		if b.SecretType == "auth-map" {
			users, errs = auth.ParseAuthMap(s.Data)
		} else {
			users, errs = auth.ParseHtpasswd(data)
		}
		a, n = auth.NewBasic(users, b.Realm, "Secret "+ref), len(users)
	}
	if b.SecretType == "auth-map" {
		for i := range errs {
			errs[i].Line = 0 // lines of a map are not the user's
		}
	}
	for _, e := range errs {
		t.problem(p, field, ReasonInvalidAuthSecret, Warning, "Secret %s %v; that entry cannot log in", ref, e)
	}
	if n == 0 {
		t.problem(p, field, ReasonInvalidAuthSecret, Warning, "Secret %s has no usable user; every request gets 401", ref)
	}
	return a
}

// secretFile is the users file of an auth Secret: the key "auth"
// (auth-file), or one "user:value" line per key (auth-map, keys sorted; for
// digest, whose values are "realm:HA1").
func secretFile(s *corev1.Secret, secretType string) ([]byte, bool) {
	if secretType != "auth-map" {
		data, ok := s.Data["auth"]
		return data, ok
	}
	users := make([]string, 0, len(s.Data))
	for u := range s.Data {
		users = append(users, u)
	}
	sort.Strings(users)
	var b strings.Builder
	for _, u := range users {
		if strings.ContainsAny(u, ":\n") {
			continue // not a user name; the line would mean something else
		}
		b.WriteString(u + ":" + strings.TrimSpace(string(s.Data[u])) + "\n")
	}
	return []byte(b.String()), true
}
