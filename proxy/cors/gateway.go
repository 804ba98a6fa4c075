package cors

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// GatewayConfig is the Gateway API's CORS filter (HTTPCORSFilter), which
// follows the fetch standard rather than ingress-nginx: a wildcard origin
// "scheme://*.suffix" spans any number of labels, "*" methods and headers
// echo what a preflight asks, any origin with credentials echoes the
// origin, a preflight is an OPTIONS request with Origin and
// Access-Control-Request-Method (answered whether its origin is allowed or
// not), and the endpoint's own Access-Control-* headers are not passed on.
type GatewayConfig struct {
	// AllowOrigins are origins ("https://a.example.com"), patterns with a
	// "*" host label prefix ("https://*.example.com"), or "*" for any.
	AllowOrigins     []string
	AllowMethods     []string // "*" allows any
	AllowHeaders     []string // "*" allows any
	ExposeHeaders    []string
	AllowCredentials bool
	// MaxAge is how long a preflight answer may be cached (0: 5 seconds,
	// the fetch standard's default).
	MaxAge time.Duration
}

// gatewayRules is a compiled GatewayConfig.
type gatewayRules struct {
	origins   []string
	anyOrigin bool // "*" among origins
	methods   []string
	headers   []string
	expose    []string // joined; nil: none
	creds     bool
	maxAge    []string
}

// NewGateway compiles the Gateway API's CORS filter into a Policy.
func NewGateway(c GatewayConfig) *Policy {
	g := &gatewayRules{origins: c.AllowOrigins, methods: c.AllowMethods, headers: c.AllowHeaders, creds: c.AllowCredentials}
	for _, o := range c.AllowOrigins {
		g.anyOrigin = g.anyOrigin || o == "*"
	}
	if len(c.ExposeHeaders) > 0 {
		g.expose = []string{strings.Join(c.ExposeHeaders, ", ")}
	}
	maxAge := c.MaxAge
	if maxAge <= 0 {
		maxAge = 5 * time.Second
	}
	g.maxAge = []string{strconv.Itoa(int(maxAge / time.Second))}
	return &Policy{gw: g, desc: fmt.Sprintf("origins=%v methods=%v headers=%v expose=%v credentials=%t max-age=%s",
		c.AllowOrigins, c.AllowMethods, c.AllowHeaders, c.ExposeHeaders, c.AllowCredentials, c.MaxAge)}
}

// OwnsHeaders reports whether the policy owns every Access-Control-*
// response header, so that the endpoint's own are not passed on (the
// Gateway API's filter; ingress-nginx's annotations set theirs over the
// endpoint's and leave the others).
func (p *Policy) OwnsHeaders() bool { return p.gw != nil }

// apply is Apply for the Gateway API's filter. An ordinary request from an
// allowed origin gets Access-Control-Allow-Origin (and -Credentials,
// -Expose-Headers); a preflight from one also gets -Allow-Methods,
// -Allow-Headers and -Max-Age. A preflight from another origin gets none,
// so the browser refuses it.
func (g *gatewayRules) apply(h http.Header, r *http.Request) (preflight bool) {
	origin := first(r.Header["Origin"])
	preflight = r.Method == http.MethodOptions && origin != "" && first(r.Header["Access-Control-Request-Method"]) != ""
	if origin == "" {
		return preflight
	}
	addVary(h)
	if !g.allows(origin) {
		return preflight
	}
	if g.anyOrigin && !g.creds {
		h["Access-Control-Allow-Origin"] = anyOrigin
	} else {
		// Browsers refuse "*" on a request with credentials.
		h["Access-Control-Allow-Origin"] = []string{origin}
	}
	if g.creds {
		h["Access-Control-Allow-Credentials"] = credsTrue
	}
	if g.expose != nil {
		h["Access-Control-Expose-Headers"] = g.expose
	}
	if !preflight {
		return false
	}
	h["Access-Control-Allow-Methods"] = []string{allowList(g.methods, first(r.Header["Access-Control-Request-Method"]))}
	if len(g.headers) > 0 {
		h["Access-Control-Allow-Headers"] = []string{allowList(g.headers, first(r.Header["Access-Control-Request-Headers"]))}
	}
	h["Access-Control-Max-Age"] = g.maxAge
	return true
}

var credsTrue = []string{"true"}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// allows reports whether a request's Origin is allowed: listed exactly,
// matching a "scheme://*.suffix" pattern with one or more labels before
// the suffix, or any with "*".
func (g *gatewayRules) allows(origin string) bool {
	for _, o := range g.origins {
		switch {
		case o == "*" || o == origin:
			return true
		case strings.Contains(o, "://*."):
			scheme, rest, _ := strings.Cut(o, "://*")
			if strings.HasPrefix(origin, scheme+"://") && strings.HasSuffix(origin, rest) &&
				len(origin) > len(scheme)+3+len(rest) {
				return true
			}
		}
	}
	return false
}

// allowList answers a preflight's method or header list: the configured
// list, or, for "*", what was asked (a literal "*" means nothing to a
// browser when credentials are allowed).
func allowList(list []string, requested string) string {
	for _, v := range list {
		if v == "*" && requested != "" {
			return requested
		}
	}
	return strings.Join(list, ", ")
}
