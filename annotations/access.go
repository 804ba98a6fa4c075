package annotations

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// CORS is enable-cors with the cors-* annotations.
type CORS struct {
	// AllowOrigins is ["*"] (every origin), or origins "scheme://host[:port]"
	// in lower case whose host may start with "*." (one label), or "null".
	// Empty: no origin matches.
	AllowOrigins     []string
	AllowMethods     string
	AllowHeaders     string
	ExposeHeaders    string
	AllowCredentials bool
	MaxAge           int // seconds
}

// CORS defaults (ingress-nginx's).
const (
	DefaultCORSMethods = "GET, PUT, POST, DELETE, PATCH, OPTIONS"
	DefaultCORSHeaders = "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization"
	DefaultCORSMaxAge  = 1728000
)

// BasicAuth is auth-type: basic (or digest) with auth-secret,
// auth-secret-type and auth-realm. The Secret is resolved by translation.
type BasicAuth struct {
	// Digest is auth-type: digest (users from an htdigest file).
	Digest bool
	Realm  string
	// SecretNamespace is the namespace written in auth-secret ("" when the
	// value is a bare name: the Ingress's own).
	SecretNamespace string
	SecretName      string
	// SecretType is "auth-file" (an htpasswd file in the key "auth") or
	// "auth-map" (one key per user, the value the password hash).
	SecretType string
}

// ExternalAuth is auth-url and its companions.
type ExternalAuth struct {
	// URL may hold $host, $http_host, $scheme, $pass_access_scheme,
	// $request_uri and $escaped_request_uri, expanded per request.
	URL    string
	Method string // "" is GET
	// SignIn, when set, turns a 401 into a 302 to it (same variables),
	// with the original URL in the query parameter SignInRedirectParam.
	SignIn              string
	SignInRedirectParam string // default "rd"
	ResponseHeaders     []string
	// RequestRedirect is X-Auth-Request-Redirect ("" sends the request URI).
	RequestRedirect string
	AlwaysSetCookie bool
	// CacheKey, when set, caches the auth service's answers per key for the
	// CacheRules' lifetimes (auth-cache-key, auth-cache-duration).
	CacheKey   []KeyPart
	CacheRules []CacheRule
	// ProxySetHeaders is auth-proxy-set-headers: a ConfigMap of headers
	// set on the subrequest, read by translation (nil: none).
	ProxySetHeaders *ConfigMapRef
}

// CacheRule is one group of auth-cache-duration: the statuses (nil is any)
// whose answers are kept for TTL.
type CacheRule struct {
	Statuses []int
	TTL      time.Duration
}

// DefaultCacheDuration is ingress-nginx's auth-cache-duration.
const DefaultCacheDuration = "200 202 401 5m"

// RateLimit is limit-rps, limit-rpm and limit-connections (0 is off).
type RateLimit struct {
	RPS, RPM, Connections int
	BurstMultiplier       int // default 5
	Allowlist             []netip.Prefix
	// RateKB paces each response to this many KiB per second after its
	// first RateAfterKB KiB (limit-rate, limit-rate-after); 0 is off.
	RateKB, RateAfterKB int
}

var (
	corsOriginRE        = regexp.MustCompile(`^[a-z][a-z0-9+.-]*://(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*\.?(:[0-9]{1,5})?$`)
	corsMethodsRE       = regexp.MustCompile(`^([A-Za-z]+,?\s?)+$`)
	corsHeadersRE       = regexp.MustCompile(`^[A-Za-z0-9_, -]*[A-Za-z0-9_-][A-Za-z0-9_, -]*$`)
	corsExposeHeadersRE = regexp.MustCompile(`^(([A-Za-z0-9_-]+|\*),?\s?)+$`)
	redirectParamRE     = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	secretNameRE        = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$`)
)

// access reads the access-control families: CORS, basic and external
// authentication, rate limits.
func (p *parser) access(c *Config) {
	if p.boolean("enable-cors", false) {
		c.CORS = p.cors()
	}
	p.basicAuth(c)
	p.externalAuth(c)
	p.rateLimit(c)
	p.clientCert(c)
	p.backendTLS(c)
}

func (p *parser) cors() *CORS {
	cs := &CORS{AllowOrigins: []string{"*"}, AllowCredentials: p.boolean("cors-allow-credentials", true),
		MaxAge: p.intRange("cors-max-age", DefaultCORSMaxAge, 0, MaxCount, ReasonInvalidValue)}
	if v, ok := p.get("cors-allow-origin"); ok && strings.TrimSpace(v) != "" {
		cs.AllowOrigins = p.origins(v)
	}
	cs.AllowMethods = p.matching("cors-allow-methods", corsMethodsRE, DefaultCORSMethods, "a comma list of methods")
	cs.AllowHeaders = p.matching("cors-allow-headers", corsHeadersRE, DefaultCORSHeaders, "a comma list of header names")
	cs.ExposeHeaders = p.matching("cors-expose-headers", corsExposeHeadersRE, "", "a comma list of header names or *")
	return cs
}

// origins parses cors-allow-origin; invalid entries are reported and left
// out.
func (p *parser) origins(v string) []string {
	out := []string{}
	for _, o := range strings.Split(v, ",") {
		o = strings.TrimSpace(o)
		switch lo := strings.ToLower(o); {
		case o == "":
		case o == "*":
			return []string{"*"}
		case lo == "null" || ValidOrigin(lo):
			out = append(out, lo)
		default:
			p.problem("cors-allow-origin", ReasonInvalidValue, Warning, "%s is not an origin like https://*.example.com:8443; left out", quoteShort(o))
		}
	}
	if len(out) == 0 {
		p.problem("cors-allow-origin", ReasonInvalidValue, Warning, "no valid origin: no cross-origin request is allowed")
	}
	return out
}

// ValidOrigin reports an origin entry: scheme://host[:port] in lower case,
// the host optionally starting with "*." (exactly one label), port 1-65535.
func ValidOrigin(o string) bool {
	if !corsOriginRE.MatchString(o) {
		return false
	}
	if i := strings.LastIndexByte(o, ':'); i > strings.Index(o, "://") {
		port := o[i+1:]
		n := 0
		for _, d := range port {
			n = n*10 + int(d-'0')
		}
		return n >= 1 && n <= 65535
	}
	return true
}

// matching reads a string that must match re; otherwise def applies.
func (p *parser) matching(name string, re *regexp.Regexp, def, want string) string {
	v, ok := p.get(name)
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	if !re.MatchString(v) {
		p.problem(name, ReasonInvalidValue, Warning, "%s is not %s; using %q", quoteShort(v), want, def)
		return def
	}
	return v
}

func (p *parser) basicAuth(c *Config) {
	v, ok := p.get("auth-type")
	if !ok || v == "" {
		return
	}
	kind := strings.TrimSpace(v)
	switch kind {
	case "basic", "digest":
	default:
		p.problem("auth-type", ReasonInvalidValue, Error, "%s is not basic or digest; every path of the Ingress answers 503 (fail closed)", quoteShort(v))
		c.DenyAll = true
		return
	}
	b := &BasicAuth{Digest: kind == "digest", SecretType: "auth-file"}
	secret, _ := p.get("auth-secret")
	ns, name, ok := p.secretName(c, "auth-secret", secret)
	if !ok {
		return
	}
	b.SecretNamespace, b.SecretName = ns, name
	if t, ok := p.get("auth-secret-type"); ok && t != "" {
		if t != "auth-file" && t != "auth-map" {
			p.problem("auth-secret-type", ReasonInvalidValue, Error, "%s is not auth-file or auth-map; every path of the Ingress answers 503 (fail closed)", quoteShort(t))
			c.DenyAll = true
			return
		}
		b.SecretType = t
	}
	b.Realm = p.wire("auth-realm", validRealm, "printable ASCII without quotes or backslashes")
	c.BasicAuth = b
}

// validRealm reports a realm that can be written as a quoted string.
func validRealm(s string) bool {
	return validHeaderValue(s) && !strings.ContainsAny(s, "\"\\\t")
}

func (p *parser) externalAuth(c *Config) {
	u, ok := p.get("auth-url")
	if !ok || strings.TrimSpace(u) == "" {
		return
	}
	deny := func(name, format string, args ...any) {
		p.problem(name, ReasonInvalidValue, Error, format+"; every path of the Ingress answers 503 (fail closed)", args...)
		c.DenyAll = true
	}
	u = strings.TrimSpace(u)
	if !ValidURLTemplate(u, validURL) {
		deny("auth-url", "%s is not an http(s) URL (variables: $host, $scheme, $request_uri, $escaped_request_uri)", quoteShort(u))
		return
	}
	ea := &ExternalAuth{URL: u, SignInRedirectParam: "rd", AlwaysSetCookie: p.boolean("auth-always-set-cookie", false)}
	if m, ok := p.get("auth-method"); ok && m != "" {
		if !validHeaderName(m) {
			deny("auth-method", "%s is not an HTTP method", quoteShort(m))
			return
		}
		ea.Method = strings.ToUpper(m)
	}
	if s, ok := p.get("auth-signin"); ok && s != "" {
		if ValidURLTemplate(s, validRedirect) {
			ea.SignIn = s
		} else {
			p.problem("auth-signin", ReasonInvalidValue, Warning, "%s is not an http(s) URL or a path; a 401 from the auth service is returned as is", quoteShort(s))
		}
	}
	ea.SignInRedirectParam = p.matching("auth-signin-redirect-param", redirectParamRE, "rd", "a query parameter name")
	if h, ok := p.get("auth-response-headers"); ok {
		for _, name := range strings.Split(h, ",") {
			if name = strings.TrimSpace(name); name == "" {
				continue
			}
			if !validHeaderName(name) {
				deny("auth-response-headers", "%s is not a header name", quoteShort(name))
				return
			}
			ea.ResponseHeaders = append(ea.ResponseHeaders, name)
		}
	}
	if r, ok := p.get("auth-request-redirect"); ok && r != "" {
		if !visibleASCII(r) {
			deny("auth-request-redirect", "%s is not printable ASCII without spaces (a header value)", quoteShort(r))
			return
		}
		ea.RequestRedirect = r
	}
	if !p.authCache(ea) {
		c.DenyAll = true
		return
	}
	var valid bool
	if ea.ProxySetHeaders, valid = p.headersConfigMap(c, "auth-proxy-set-headers"); !valid {
		return
	}
	c.ExternalAuth = ea
}

// authCache reads auth-cache-key and auth-cache-duration. An invalid key
// turns caching off; an invalid duration closes the paths (false), as
// ingress-nginx denies the location.
func (p *parser) authCache(ea *ExternalAuth) bool {
	k, ok := p.get("auth-cache-key")
	if !ok || strings.TrimSpace(k) == "" {
		return true
	}
	parts, err := parseKey(strings.TrimSpace(k), cacheVariable)
	if err != nil {
		p.problem("auth-cache-key", ReasonInvalidValue, Warning, "%v; auth answers are not cached", err)
		return true
	}
	d, _ := p.get("auth-cache-duration")
	if strings.TrimSpace(d) == "" {
		d = DefaultCacheDuration
	}
	rules, err := ParseCacheDurations(d)
	if err != nil {
		p.problem("auth-cache-duration", ReasonInvalidValue, Error, "%v; every path of the Ingress answers 503 (fail closed)", err)
		return false
	}
	ea.CacheKey, ea.CacheRules = parts, rules
	return true
}

func cacheVariable(name string) (KeyPart, error) {
	if name == "remote_user" {
		return KeyPart{Kind: KeyRemoteUser}, nil
	}
	part, err := hashVariable(name)
	if err != nil {
		return KeyPart{}, fmt.Errorf("auth-cache-key: unknown variable $%s", name)
	}
	return part, nil
}

// ParseCacheDurations parses auth-cache-duration: comma-separated groups of
// statuses (or "any") followed by one duration (nginx units ms, s, m, h, d,
// w; "5m", "1h30m"), at most MaxTimeout.
func ParseCacheDurations(s string) ([]CacheRule, error) {
	var rules []CacheRule
	for _, group := range strings.Split(s, ",") {
		f := strings.Fields(group)
		if len(f) == 0 {
			continue
		}
		ttl, err := nginxDuration(f[len(f)-1])
		if err != nil || ttl > MaxTimeout {
			return nil, fmt.Errorf("auth-cache-duration: %q does not end in a duration of at most %s", strings.TrimSpace(group), MaxTimeout)
		}
		r := CacheRule{TTL: ttl}
		for _, code := range f[:len(f)-1] {
			if code == "any" {
				r.Statuses = nil
				break
			}
			n, err := strconv.Atoi(code)
			if err != nil || n < 100 || n > 599 {
				return nil, fmt.Errorf("auth-cache-duration: %q is not a status", code)
			}
			r.Statuses = append(r.Statuses, n)
		}
		if len(f) == 1 {
			r.Statuses = []int{200, 301, 302} // nginx's proxy_cache_valid without codes
		}
		rules = append(rules, r)
	}
	if len(rules) == 0 {
		return nil, fmt.Errorf("auth-cache-duration: empty")
	}
	return rules, nil
}

var nginxDurationRE = regexp.MustCompile(`^(\d{1,9}(ms|s|m|h|d|w))+$`)

// nginxDuration parses nginx's time syntax ("30s", "1h30m", "500ms").
func nginxDuration(s string) (time.Duration, error) {
	if !nginxDurationRE.MatchString(s) {
		return 0, fmt.Errorf("not a duration")
	}
	var total time.Duration
	for s != "" {
		i := 0
		for s[i] >= '0' && s[i] <= '9' {
			i++
		}
		n, _ := strconv.Atoi(s[:i])
		j := i + 1
		if strings.HasPrefix(s[i:], "ms") {
			j = i + 2
		}
		unit := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour,
			"d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[s[i:j]]
		total += time.Duration(n) * unit
		if total > MaxTimeout {
			return 0, fmt.Errorf("too long")
		}
		s = s[j:]
	}
	return total, nil
}

// URLVariables are the nginx variables auth-url and auth-signin may hold.
var URLVariables = []string{"$escaped_request_uri", "$pass_access_scheme", "$best_http_host", "$request_uri", "$http_host", "$scheme", "$host"}

// ValidURLTemplate reports whether s, with each variable replaced by a
// typical value, is accepted by valid; any other "$" makes it invalid.
func ValidURLTemplate(s string, valid func(string) bool) bool {
	t := s
	for _, v := range URLVariables {
		sample := "example.com"
		switch v {
		case "$scheme", "$pass_access_scheme":
			sample = "https"
		case "$request_uri", "$escaped_request_uri":
			sample = "/p"
		}
		t = strings.ReplaceAll(t, v, sample)
	}
	return !strings.Contains(t, "$") && valid(t)
}

func (p *parser) rateLimit(c *Config) {
	rl := RateLimit{BurstMultiplier: p.intRange("limit-burst-multiplier", 5, 1, 1000, ReasonInvalidValue)}
	for _, f := range []struct {
		name string
		dst  *int
	}{{"limit-rps", &rl.RPS}, {"limit-rpm", &rl.RPM}, {"limit-connections", &rl.Connections}} {
		before := len(p.problems)
		*f.dst = p.intRange(f.name, 0, 0, MaxCount, ReasonInvalidValue)
		if len(p.problems) > before {
			p.problems[len(p.problems)-1].Severity = Error
			p.problems[len(p.problems)-1].Message += "; the Ingress is not served"
			c.DropIngress = true
		}
	}
	allowName := "limit-allowlist"
	if v, ok := p.get(allowName); !ok || strings.TrimSpace(v) == "" {
		allowName = "limit-whitelist"
	}
	var ok bool
	if rl.Allowlist, ok = p.cidrList(allowName, ReasonInvalidValue, "the Ingress is not served"); !ok {
		c.DropIngress = true
	}
	rl.RateKB = p.intRange("limit-rate", 0, 0, MaxCount, ReasonInvalidValue)
	rl.RateAfterKB = p.intRange("limit-rate-after", 0, 0, MaxCount, ReasonInvalidValue)
	if rl.RPS > 0 || rl.RPM > 0 || rl.Connections > 0 || rl.RateKB > 0 {
		c.RateLimit = &rl
	}
}

func registerAccess() {
	loc := func(name, def, doc string, risk Risk) Entry {
		return Entry{Name: name, Scope: ScopeLocation, Risk: risk, Default: def, Supported: true, Doc: doc}
	}
	register(
		loc("enable-cors", "false", "Answer CORS preflights (204, without reaching the backend) and add CORS headers to responses for allowed origins.", RiskLow),
		loc("cors-allow-origin", "*", "Comma list of allowed origins scheme://host[:port], the host optionally starting with *.; invalid entries are left out.", RiskMedium),
		loc("cors-allow-methods", DefaultCORSMethods, "Access-Control-Allow-Methods.", RiskLow),
		loc("cors-allow-headers", DefaultCORSHeaders, "Access-Control-Allow-Headers.", RiskLow),
		loc("cors-expose-headers", "", "Access-Control-Expose-Headers.", RiskLow),
		loc("cors-allow-credentials", "true", "Access-Control-Allow-Credentials.", RiskLow),
		loc("cors-max-age", "1728000", "Access-Control-Max-Age in seconds.", RiskLow),
		Entry{Name: "auth-type", Scope: ScopeLocation, Risk: RiskCritical, Supported: true, FailClosed: true,
			Doc: "basic or digest: HTTP authentication against the users of auth-secret (401 with WWW-Authenticate); the backend never sees the credentials."},
		loc("auth-secret", "", "Secret (in the Ingress's namespace) with the users; missing or unreadable: every path answers 503.", RiskCritical),
		loc("auth-secret-type", "auth-file", "auth-file: an htpasswd (digest: htdigest) file in the key auth; auth-map: one key per user. Hashes: bcrypt, apr1/MD5-crypt, {SHA}, {SSHA}, {PLAIN}; digest: realm:HA1.", RiskMedium),
		loc("auth-realm", "", "Realm of the challenge; with digest, only htdigest lines of this realm are read.", RiskLow),
		Entry{Name: "auth-url", Scope: ScopeLocation, Risk: RiskCritical, Supported: true, FailClosed: true,
			Doc: "External authentication: a subrequest to this URL decides (2xx allows; 401/403 are returned; anything else, or no answer, is 500)."},
		loc("auth-method", "GET", "Method of the authentication subrequest.", RiskMedium),
		loc("auth-signin", "", "Where a 401 from the auth service redirects (302), with the original URL in rd=.", RiskMedium),
		loc("auth-signin-redirect-param", "rd", "Query parameter of auth-signin that carries the original URL.", RiskLow),
		loc("auth-response-headers", "", "Headers copied from the auth response to the request sent upstream.", RiskMedium),
		loc("auth-request-redirect", "", "X-Auth-Request-Redirect sent to the auth service (default: the request URI).", RiskLow),
		loc("auth-cache-key", "", "Caches the auth service's answers per this key (nginx variables such as $http_authorization, $cookie_NAME, $remote_user), for each host and path of the Ingress apart; `$remote_user` counts with the whole credentials, not the name alone; unset: no caching.", RiskMedium),
		loc("auth-cache-duration", DefaultCacheDuration, "Statuses and lifetime of cached auth answers (\"200 202 10m, 401 5m\"); answers with Set-Cookie are never cached; invalid: every path answers 503.", RiskMedium),
		loc("auth-always-set-cookie", "false", "Pass the auth service's Set-Cookie to the client on every response, not only successful ones.", RiskLow),
		loc("limit-rps", "0", "Requests per second per client address (per Ingress, per replica), with a burst of rps×multiplier; excess gets 503.", RiskLow),
		loc("limit-rpm", "0", "Requests per minute per client address, with a burst of rpm×multiplier; excess gets 503.", RiskLow),
		loc("limit-connections", "0", "Concurrent requests per client address; excess gets 503.", RiskLow),
		loc("limit-burst-multiplier", "5", "Burst of limit-rps and limit-rpm as a multiple of the rate (1-1000).", RiskLow),
		loc("limit-rate", "0", "KiB per second each response is sent at, after limit-rate-after KiB; 0 is off.", RiskLow),
		loc("limit-rate-after", "0", "KiB of each response sent before limit-rate applies.", RiskLow),
		loc("limit-allowlist", "", "Comma list of CIDRs exempt from the rate limits; an invalid entry drops the Ingress.", RiskLow),
		loc("limit-whitelist", "", "Alias of limit-allowlist, read when that is absent.", RiskLow),
	)
}
