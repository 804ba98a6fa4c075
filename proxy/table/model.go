// Package table is Weir's routing table: an immutable snapshot of hosts,
// routes, matches, splits and backends that the proxy consults once per
// request. The controller produces tables; the proxy consumes them. The
// package depends only on the standard library and Weir's own request-path
// packages (proxy/auth, proxy/compress, proxy/cors, proxy/ratelimit, tls),
// so that the request path never drags Kubernetes types along.
//
// A Table is built once by New and never changed afterwards; it is published
// through an atomic.Pointer and every request uses the one snapshot it loaded
// for its whole life. Runtime state (in-flight counts, health) lives outside
// the table, in the proxy's endpoint registry, keyed by endpoint identity.
package table

import (
	"crypto/tls"
	"net/http"
	"net/netip"
	"regexp"
	"time"

	"weir.dev/weir/proxy/auth"
	"weir.dev/weir/proxy/compress"
	"weir.dev/weir/proxy/cors"
	"weir.dev/weir/proxy/ratelimit"
	weirtls "weir.dev/weir/tls"
)

// PathType says how a route's path is compared with a request's path.
type PathType uint8

const (
	// PathPrefix matches by path element: "/foo" matches "/foo", "/foo/"
	// and "/foo/bar" but not "/foobar". A value ending in "/" ("/foo/")
	// matches only paths that start with it. Ingress pathType Prefix and
	// ImplementationSpecific (without regex) translate to it.
	PathPrefix PathType = iota
	// PathExact matches the whole path, case-sensitively.
	PathExact
	// PathRegex is a regular expression (RE2) matched case-insensitively and
	// anchored at the start but not at the end, as ingress-nginx matches
	// paths of Ingresses with use-regex or rewrite-target.
	PathRegex
	// PathRegexFull is a regular expression (RE2) matched case-sensitively
	// against the whole path: the Gateway API's RegularExpression.
	PathRegexFull
)

// MatchType says how a header or query-parameter value is compared.
type MatchType uint8

const (
	// MatchExact compares the value byte for byte.
	MatchExact MatchType = iota
	// MatchRegex matches an unanchored RE2 expression against the value;
	// the translator anchors it when the source asks for a full match.
	MatchRegex
)

// PathMatch is a route's path condition.
type PathMatch struct {
	Type  PathType
	Value string
	re    *regexp.Regexp
}

// HeaderMatch requires a request header (name compared case-insensitively;
// the first value is used) to match.
type HeaderMatch struct {
	Name  string
	Type  MatchType
	Value string
	key   string // canonical MIME key, filled by New
	re    *regexp.Regexp
}

// QueryMatch requires a query parameter (name compared exactly; the first
// value is used) to match.
type QueryMatch struct {
	Name  string
	Type  MatchType
	Value string
	re    *regexp.Regexp
}

// Source names the Kubernetes object a route came from; it feeds metric
// labels and log fields and never affects matching.
type Source struct {
	Kind      string // "Ingress" or "HTTPRoute"
	Namespace string
	Name      string
}

// Route is one host/path (and optional method, header and query) condition
// and the action taken when a request meets it.
type Route struct {
	// Host is an exact lower-case name, a one-label wildcard such as
	// "*.example.com", or "" for the catch-all host.
	Host    string
	Path    PathMatch
	Method  string // "" matches every method
	Headers []HeaderMatch
	Query   []QueryMatch
	Action  *Action
	Source  Source
	// Order breaks ties that Less leaves: lower first. The translator
	// assigns it from creation time, then namespace/name, then rule index.
	Order int
	// HostRank orders routes of one host entry by how specifically their
	// own hostname matched it, higher first (the Gateway API: an exact
	// route hostname before a wildcard, a longer wildcard before a
	// shorter). Ingress routes leave it 0.
	HostRank int

	index int
}

// Index is the route's position in Table.Routes.
func (r *Route) Index() int { return r.index }

// Action is what happens to a request that matched a route. Exactly one of
// Redirect, Respond and a forwarding Split applies, in that order.
type Action struct {
	Redirect *Redirect
	Respond  *Respond
	Split    Split

	// SSLRedirect answers plain-HTTP requests with a 308 to https:// (the
	// route's host has TLS and ssl-redirect is on, or force-ssl-redirect).
	SSLRedirect bool
	// HSTS is the Strict-Transport-Security value added to HTTPS responses;
	// "" adds none.
	HSTS string

	// RequestHeaders and ResponseHeaders edit headers on the way through.
	RequestHeaders  HeaderEdits
	ResponseHeaders HeaderEdits
	// Rewrite changes the path sent upstream; nil sends it unchanged.
	Rewrite *Rewrite
	// HostRewrite replaces the Host header sent upstream ("" keeps it).
	HostRewrite string
	// MaxBodyBytes limits the request body (413 beyond); 0 is unlimited.
	MaxBodyBytes int64

	// SourceDeny and SourceAllow filter clients by address: a client in
	// SourceDeny, or not in a non-empty SourceAllow, gets 403 (deny first).
	SourceDeny  []netip.Prefix
	SourceAllow []netip.Prefix

	// CORS, RateLimit, BasicAuth and ExternalAuth are the access checks,
	// in that order (proxy/access.go); nil when unused. CORS is
	// ingress-nginx's annotations or the Gateway API's filter (the policy
	// knows which rules it follows); the others are ingress-nginx's.
	CORS         *cors.Policy
	RateLimit    *ratelimit.Limiter
	BasicAuth    *auth.Basic
	ExternalAuth *auth.External
	// ClientCert is auth-tls-*, checked first of all (proxy/clientcert.go).
	ClientCert *weirtls.ClientAuth

	// The Gateway API's RequestMirror and timeouts (gateway.go).
	Mirrors  []Mirror
	Timeouts RouteTimeouts

	// ErrorPages is custom-http-errors and default-backend
	// (proxy/customerrors.go); Compression the global gzip and brotli
	// settings (proxy/compress). nil when unused.
	ErrorPages  *ErrorPages
	Compression *compress.Policy
}

// Redirect answers without proxying.
type Redirect struct {
	Status int    // 301, 302, 303, 307 or 308
	Scheme string // "" keeps the request's
	Host   string // "" keeps the request's
	Port   int    // 0 keeps the request's (omitted when default for the scheme)
	// Path replaces the whole path; PrefixPath replaces the matched prefix.
	Path       string
	PrefixPath string
	// URL, when set, is the literal Location (ingress-nginx's
	// permanent-redirect and temporal-redirect); the other fields are unused.
	URL string
}

// Respond answers with a fixed status and short body.
type Respond struct {
	Status int
	Body   string
}

// HeaderEdits adds, sets and removes headers.
type HeaderEdits struct {
	Set    []Header // replace any existing values
	Add    []Header // append
	Remove []string
}

// Header is one name/value pair.
type Header struct{ Name, Value string }

// Rewrite changes the upstream path.
type Rewrite struct {
	// Full replaces the whole path.
	Full string
	// Prefix replaces the part of the path matched by a PathPrefix route.
	Prefix string
	// Target is an ingress-nginx rewrite-target: the path is replaced by
	// Target with $1..$9 taken from the route's PathRegex captures.
	Target string
	// ForwardedPrefix, when set, is sent as X-Forwarded-Prefix.
	ForwardedPrefix string
}

// Split chooses the backend for a request: a main backend with an optional
// canary (Ingress), or a weighted list (HTTPRoute backendRefs). When Main is
// nil the weighted list is used.
type Split struct {
	Main     *Backend
	Canary   *Canary
	Weighted []WeightedBackend
}

// Canary is the nginx-style canary attached to a main backend. Its rules run
// in the order of docs/canary.md: header, cookie, weight.
type Canary struct {
	Backend *Backend
	// Ingress is the canary Ingress's name, which its metric series carry.
	Ingress string
	// Header is the header name that selects the canary; "" turns the rule off.
	Header string
	// HeaderValue, when set, is the exact value that selects the canary.
	HeaderValue string
	// HeaderPattern, when set (and HeaderValue is not), is an unanchored
	// regular expression that selects the canary.
	HeaderPattern *regexp.Regexp
	// Cookie is the cookie name whose value "always"/"never" decides.
	Cookie string
	// Weight out of WeightTotal requests go to the canary.
	Weight      int
	WeightTotal int
	// Legacy is affinity-canary-behavior: legacy (the canary sets no
	// affinity cookie of its own).
	Legacy    bool
	headerKey string
}

// WeightedBackend is one entry of a weighted split. Weight 0 receives no
// request at all.
type WeightedBackend struct {
	// Backend is nil for an invalid reference: a request whose draw lands
	// on its share gets 500.
	Backend *Backend
	Weight  int
	// Filters are the backendRef's own header edits, applied after the
	// route's; nil for none.
	Filters *BackendFilters
	merged  *Action // the route's action with Filters, made by New
}

// Protocol is the protocol spoken to a backend's endpoints.
type Protocol uint8

const (
	// HTTP1 is HTTP/1.1 in clear text (the default).
	HTTP1 Protocol = iota
	// HTTPS is HTTP/1.1 (or h2 when negotiated) over TLS.
	HTTPS
	// H2C is HTTP/2 in clear text with prior knowledge.
	H2C
	// GRPC is gRPC over h2c.
	GRPC
	// GRPCS is gRPC over TLS.
	GRPCS
)

var protocolNames = [...]string{"http", "https", "h2c", "grpc", "grpcs"}

func (p Protocol) String() string {
	if int(p) < len(protocolNames) {
		return protocolNames[p]
	}
	return "unknown"
}

// Backend is a set of endpoints with the policy to reach them. Backends are
// shared by pointer between the routes (and canaries) that use them.
type Backend struct {
	// Name identifies the backend in dumps, logs and metrics, for example
	// "default/web:80".
	Name      string
	Namespace string
	Service   string
	Port      string

	Endpoints []Endpoint
	Protocol  Protocol
	Balance   BalancePolicy
	Health    HealthCheck
	Passive   PassiveHealth
	Timeouts  Timeouts
	Retry     RetryPolicy
	// TLS, when set, replaces the proxy's default upstream TLS for HTTPS
	// and GRPCS (proxy-ssl-*, proxy/backendtls.go).
	TLS *BackendTLS

	// UnavailableStatus is the status answered when no endpoint is
	// available; 0 means 503. The Gateway API asks 500 for invalid refs.
	UnavailableStatus int
	// Problem explains why a backend has no endpoints (unknown Service,
	// unknown port); it appears in dumps and in the 503's log line.
	Problem string

	index int
}

// Index is the backend's dense position in its table (0..len(Backends)-1);
// the proxy keeps per-table runtime data in a slice indexed by it.
func (b *Backend) Index() int { return b.index }

// Endpoint is one address of a backend.
type Endpoint struct {
	// Address is "ip:port" ("[v6]:port"), or "name:port" for an
	// ExternalName Service, resolved when connecting.
	Address string
	// Zone is the topology zone, when known (informational).
	Zone string
	// Terminating marks an endpoint used only because no ready one exists.
	Terminating bool
}

// BalanceKind names a load-balancing policy.
type BalanceKind uint8

const (
	// LeastConn picks the endpoint with the fewest in-flight requests,
	// breaking ties at random (the default).
	LeastConn BalanceKind = iota
	// RoundRobin cycles through the available endpoints.
	RoundRobin
	// EWMA picks the better of two random endpoints by latency EWMA
	// weighted by in-flight requests.
	EWMA
	// Hash picks by rendezvous hashing of HashKey.
	Hash
	// Random picks uniformly at random.
	Random
	// SED is IPVS's shortest expected delay: the least (in-flight+1)/weight,
	// ties taken in turn.
	SED
	// NQ is IPVS's never queue: an idle endpoint first, else SED.
	NQ
)

var balanceNames = [...]string{"least_conn", "round_robin", "ewma", "hash", "random", "sed", "nq"}

func (k BalanceKind) String() string {
	if int(k) < len(balanceNames) {
		return balanceNames[k]
	}
	return "unknown"
}

// BalancePolicy configures endpoint selection for a backend.
type BalancePolicy struct {
	Kind BalanceKind
	// HashKey is the key template for Hash (ingress-nginx upstream-hash-by).
	HashKey []KeyPart
	// Affinity, when set, pins clients to an endpoint with a cookie and
	// overrides Kind.
	Affinity *Affinity
}

// KeyPartKind names a piece of a hash key template.
type KeyPartKind uint8

const (
	KeyLiteral    KeyPartKind = iota // Name is literal text
	KeyRequestURI                    // path and query as received
	KeyURI                           // path
	KeyRemoteAddr                    // client IP
	KeyHost                          // request host
	KeyHeader                        // value of header Name
	KeyCookie                        // value of cookie Name
	KeyArg                           // value of query parameter Name
)

// KeyPart is one piece of a hash key template.
type KeyPart struct {
	Kind KeyPartKind
	Name string
}

// Affinity is cookie-based session affinity (sticky sessions).
type Affinity struct {
	CookieName string // default INGRESSCOOKIE
	Path       string
	Domain     string
	MaxAge     time.Duration // 0: session cookie
	Secure     bool
	SameSite   http.SameSite
	// ChangeOnFailure re-pins a client whose endpoint failed.
	ChangeOnFailure bool
}

// HealthCheck is the active health check of every endpoint of a backend.
// An empty Path disables it.
type HealthCheck struct {
	Path     string
	Port     int           // 0: the endpoint's port
	Interval time.Duration // default 5s; jittered by up to 10 %
	Timeout  time.Duration // default 1s
	Rise     int           // consecutive successes to become healthy (default 2)
	Fall     int           // consecutive failures to become unhealthy (default 3)
}

// PassiveHealth ejects endpoints that fail real requests.
type PassiveHealth struct {
	// MaxFails consecutive failures eject an endpoint; 0 disables ejection.
	MaxFails int
	// Ejection is how long an ejected endpoint stays out (default 10s).
	Ejection time.Duration
	// On5xx counts 5xx responses as failures, not only connection errors.
	On5xx bool
}

// Timeouts bound the conversation with one endpoint.
type Timeouts struct {
	Connect time.Duration // default 5s
	Send    time.Duration // writing the request; default 60s
	Read    time.Duration // between reads of the response; default 60s
}

// RetryOn is a set of failure conditions that allow a retry.
type RetryOn uint16

const (
	RetryError         RetryOn = 1 << iota // connect error, reset before response headers
	RetryTimeout                           // connect or response-header timeout
	RetryInvalidHeader                     // malformed response
	Retry500
	Retry502
	Retry503
	Retry504
	Retry403
	Retry404
	Retry429
	RetryNonIdempotent // also retry non-idempotent methods
)

// RetryPolicy bounds retries on another endpoint of the same backend.
// Retries never cross between the main and the canary side, and never happen
// once response bytes reached the client.
type RetryPolicy struct {
	On RetryOn
	// Tries is the total number of attempts including the first (default 3).
	Tries int
	// Timeout bounds the time spent on all attempts; 0 is unbounded.
	Timeout time.Duration
}

// BackendTLS is a backend's own client TLS configuration. Key identifies
// it across tables (the Secret's version and the settings), so the proxy
// keeps one connection pool per Key, not per table.
type BackendTLS struct {
	Config *tls.Config
	Key    string
}
