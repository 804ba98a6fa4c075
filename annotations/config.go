package annotations

import (
	"net/netip"
	"regexp"
	"time"
)

// Severity of a problem.
type Severity string

const (
	// Warning: the value was ignored or replaced by its default; the Ingress
	// is served.
	Warning Severity = "Warning"
	// Error: the value makes part of the Ingress unusable (see Config.DropIngress
	// and Config.DenyAll).
	Error Severity = "Error"
)

// Problem is one invalid, unsupported or rejected annotation. Reason is
// stable (CamelCase): it is the Event reason and the metric label.
type Problem struct {
	Field    string // the full annotation key
	Reason   string
	Message  string
	Severity Severity
}

// Problem reasons.
const (
	ReasonInvalidValue                 = "InvalidAnnotationValue"
	ReasonInvalidCanaryWeight          = "InvalidCanaryWeight"
	ReasonInvalidCanaryHeader          = "InvalidCanaryHeader"
	ReasonInvalidCanaryPattern         = "InvalidCanaryHeaderPattern"
	ReasonInvalidCanaryCookie          = "InvalidCanaryCookie"
	ReasonCanaryAnnotationsWithoutFlag = "CanaryAnnotationsWithoutCanary"
	ReasonCanaryValueAndPattern        = "CanaryHeaderValueAndPattern"
	ReasonInvalidRewriteTarget         = "InvalidRewriteTarget"
	ReasonInvalidSourceRange           = "InvalidSourceRange"
	ReasonInvalidHashKey               = "InvalidUpstreamHashBy"
	ReasonInvalidRedirect              = "InvalidRedirect"
	ReasonUnsupportedAnnotation        = "UnsupportedAnnotation"
	ReasonUnenforceableAccess          = "UnenforceableAccessRestriction"
	ReasonUnknownAnnotation            = "UnknownAnnotation"
	ReasonSnippetRejected              = "SnippetRejected"
)

// Config is the typed configuration of one Ingress.
type Config struct {
	Canary Canary

	UseRegex         bool
	RewriteTarget    string
	XForwardedPrefix string
	AppRoot          string
	SSLRedirect      bool // default true
	ForceSSLRedirect bool
	// SSLPassthrough: TLS for the Ingress's hosts is spliced to the
	// backend by SNI (passthrough.go).
	SSLPassthrough bool

	BackendProtocol Protocol
	Timeouts        Timeouts
	// ProxyBodySize in bytes; 0 is unlimited (default 1 MiB).
	ProxyBodySize int64
	NextUpstream  NextUpstream

	// LoadBalance is "" when not set (Weir's default, least_conn, applies).
	LoadBalance    string
	UpstreamHashBy []KeyPart
	Affinity       *Affinity

	UpstreamVhost string
	Redirect      *Redirect

	AllowSourceRange []netip.Prefix
	DenySourceRange  []netip.Prefix
	// DenyAll is set when a source range is invalid: every path of the
	// Ingress answers 503 (fail closed), as ingress-nginx does.
	DenyAll bool

	ServerAlias []string

	// CORS, BasicAuth, ExternalAuth and RateLimit are the access-control
	// families (annotations/access.go); nil when not used.
	CORS         *CORS
	BasicAuth    *BasicAuth
	ExternalAuth *ExternalAuth
	RateLimit    *RateLimit
	// ClientCert is auth-tls-* (annotations/clientcert.go).
	ClientCert *ClientCert
	// BackendTLS is proxy-ssl-* (annotations/backendtls.go).
	BackendTLS *BackendTLS
	// CustomHeaders is custom-headers: a ConfigMap of response headers,
	// read by translation (annotations/headers.go); nil when not used.
	CustomHeaders *ConfigMapRef

	// ErrorPages is custom-http-errors and default-backend, Mirror is
	// mirror-* (annotations/errorpages.go); nil when not used.
	ErrorPages *ErrorPages
	Mirror     *Mirror

	// HealthCheck is Weir's active check (weir.dev/health-check-*).
	HealthCheck HealthCheck

	// DropIngress is set when a value invalidates the whole Ingress
	// (ingress-nginx drops it; Weir reports an Error problem and serves
	// none of its paths).
	DropIngress bool
}

// Canary is the nginx canary configuration (docs/canary.md, "The annotations").
type Canary struct {
	Enabled     bool
	Weight      int
	WeightTotal int
	// Header selects the canary by header; "" turns the rule off.
	Header        string
	HeaderValue   string
	HeaderPattern *regexp.Regexp
	Cookie        string
	// Legacy is affinity-canary-behavior: legacy.
	Legacy bool
}

// Protocol is backend-protocol.
type Protocol string

const (
	ProtocolHTTP  Protocol = "HTTP"
	ProtocolHTTPS Protocol = "HTTPS"
	ProtocolGRPC  Protocol = "GRPC"
	ProtocolGRPCS Protocol = "GRPCS"
	ProtocolH2C   Protocol = "H2C"
)

// Timeouts are the proxy-*-timeout annotations.
type Timeouts struct {
	Connect time.Duration // default 5s
	Send    time.Duration // default 60s
	Read    time.Duration // default 60s
}

// NextUpstream is the retry policy of proxy-next-upstream*.
type NextUpstream struct {
	// On lists the conditions (error, timeout, invalid_header, http_500,
	// http_502, http_503, http_504, http_403, http_404, http_429,
	// non_idempotent); empty means off.
	On      []string
	Tries   int           // default 3
	Timeout time.Duration // 0: unbounded
}

// KeyPartKind is a piece of an upstream-hash-by template.
type KeyPartKind int

const (
	KeyLiteral KeyPartKind = iota
	KeyRequestURI
	KeyURI
	KeyRemoteAddr
	KeyHost
	KeyHeader
	KeyCookie
	KeyArg
	// KeyRemoteUser is the basic-auth user name (auth-cache-key only).
	KeyRemoteUser
)

// KeyPart is one piece of an upstream-hash-by template.
type KeyPart struct {
	Kind KeyPartKind
	Name string // literal text, or the header, cookie or argument name
}

// Affinity is cookie affinity (sticky sessions).
type Affinity struct {
	CookieName      string // default INGRESSCOOKIE
	Path            string
	Domain          string
	MaxAge          time.Duration
	Secure          bool
	SameSite        string // "", None, Lax, Strict
	Mode            string // balanced or persistent
	ChangeOnFailure bool
}

// Redirect is permanent-redirect or temporal-redirect.
type Redirect struct {
	URL    string
	Status int
}
