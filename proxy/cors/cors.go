// Package cors answers CORS preflight requests and adds CORS headers to
// responses, as ingress-nginx's enable-cors and cors-* annotations do (New)
// or as the Gateway API's CORS filter does (NewGateway, gateway.go): one
// Policy type, so a route has one CORS policy and the proxy one place that
// applies it. A Policy is immutable and shared by every request of the
// routes that use it; matching an origin allocates nothing.
package cors

import (
	"net/http"
	"strconv"
	"strings"

	"weir.dev/weir/proxy/wire"
)

// Config is what a Policy is built from (annotations.CORS, validated).
type Config struct {
	// AllowOrigins is ["*"], or lower-case origins scheme://host[:port]
	// whose host may start with "*." (one label), or "null".
	AllowOrigins     []string
	AllowMethods     string
	AllowHeaders     string
	ExposeHeaders    string
	AllowCredentials bool
	MaxAge           int
}

// Policy is a compiled Config.
type Policy struct {
	any     bool
	exact   []string
	wild    []wildcard
	methods []string
	headers []string
	expose  []string
	creds   []string
	maxAge  []string
	desc    string
	gw      *gatewayRules // the Gateway API's filter (NewGateway); nil: ingress-nginx's
}

// wildcard is "scheme://*.suffix[:port]": prefix is "scheme://", suffix is
// ".suffix[:port]".
type wildcard struct{ prefix, suffix string }

// New compiles a Config.
func New(c Config) *Policy {
	p := &Policy{methods: []string{c.AllowMethods}, headers: []string{c.AllowHeaders}, maxAge: []string{strconv.Itoa(c.MaxAge)}}
	if c.ExposeHeaders != "" {
		p.expose = []string{c.ExposeHeaders}
	}
	if c.AllowCredentials {
		p.creds = []string{"true"}
	}
	for _, o := range c.AllowOrigins {
		switch {
		case o == "*":
			p.any = true
		case strings.Contains(o, "://*."):
			i := strings.Index(o, "*")
			p.wild = append(p.wild, wildcard{prefix: o[:i], suffix: o[i+1:]})
		default:
			p.exact = append(p.exact, o)
		}
	}
	p.desc = "origins=" + strings.Join(c.AllowOrigins, ",") + " methods=" + strconv.Quote(c.AllowMethods) +
		" headers=" + strconv.Quote(c.AllowHeaders) + " expose=" + strconv.Quote(c.ExposeHeaders) +
		" credentials=" + strconv.FormatBool(c.AllowCredentials) + " max-age=" + strconv.Itoa(c.MaxAge)
	return p
}

// String describes the policy for table dumps.
func (p *Policy) String() string { return p.desc }

var anyOrigin = []string{"*"}

// Apply adds the CORS headers to h when the request's origin is allowed, and
// reports whether the request is a preflight Weir answers itself (204,
// without reaching the backend). With "*" every request counts as allowed,
// with or without an Origin header, as in ingress-nginx; a preflight's
// answer is text/plain, as ingress-nginx's. A Gateway API policy follows
// its own rules (gateway.go).
func (p *Policy) Apply(h http.Header, r *http.Request) (preflight bool) {
	if p.gw != nil {
		return p.gw.apply(h, r)
	}
	var allow []string
	if p.any {
		allow = anyOrigin
	} else {
		// The answer depends on the Origin header: caches must know.
		addVary(h)
		origin := r.Header["Origin"]
		if len(origin) != 1 || !p.Allows(origin[0]) {
			return false
		}
		allow = origin
	}
	h["Access-Control-Allow-Origin"] = allow
	if p.creds != nil {
		h["Access-Control-Allow-Credentials"] = p.creds
	}
	h["Access-Control-Allow-Methods"] = p.methods
	h["Access-Control-Allow-Headers"] = p.headers
	if p.expose != nil {
		h["Access-Control-Expose-Headers"] = p.expose
	}
	h["Access-Control-Max-Age"] = p.maxAge
	if r.Method != http.MethodOptions {
		return false
	}
	h["Content-Type"] = preflightType
	return true
}

var preflightType = []string{"text/plain charset=UTF-8"}

var varyOrigin = []string{"Origin"}

// addVary adds Origin to the Vary header, keeping what is there.
func addVary(h http.Header) {
	if h["Vary"] == nil {
		h["Vary"] = varyOrigin // no allocation in the usual case
		return
	}
	h["Vary"] = wire.AddVary(h["Vary"], "Origin")
}

// Allows reports whether origin matches the policy (case-insensitively for
// ingress-nginx's).
func (p *Policy) Allows(origin string) bool {
	if p.gw != nil {
		return p.gw.allows(origin)
	}
	if p.any {
		return true
	}
	for _, o := range p.exact {
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	for _, w := range p.wild {
		if w.matches(origin) {
			return true
		}
	}
	return false
}

// matches accepts prefix + one DNS label + suffix.
func (w wildcard) matches(origin string) bool {
	n := len(origin) - len(w.prefix) - len(w.suffix)
	if n <= 0 || !strings.EqualFold(origin[:len(w.prefix)], w.prefix) || !strings.EqualFold(origin[len(origin)-len(w.suffix):], w.suffix) {
		return false
	}
	for _, c := range []byte(origin[len(w.prefix) : len(w.prefix)+n]) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
