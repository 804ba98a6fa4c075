// Package globalconfig reads ingress-nginx's global ConfigMap (--configmap
// namespace/name): the keys Weir honours, their ingress-nginx defaults and
// Weir's behaviour, in one registry (keys.go) that `weir migrate` reads too.
//
// A key falls in one of these groups (Key.Scope):
//   - ScopeRoute keys set the default of the Ingress annotation of the same
//     name; an annotation on an Ingress still wins, as in ingress-nginx.
//   - ScopeGlobal keys apply to every request at once (forwarded headers,
//     block lists, PROXY protocol on newly accepted connections).
//   - ScopeListener keys tune the HTTP and HTTPS listeners: a change
//     applies to the connections accepted afterwards, while open ones keep
//     what they were accepted with (as an nginx reload does).
//   - ScopeStart keys tune the proxy and the upstream pools: they are read
//     when Weir starts, and a later change is reported as needing a
//     restart (ingress-nginx reloads nginx for them).
//   - ScopeCompression and ScopeErrors are the response compression and
//     custom error keys, parsed here and served by the proxy's compression
//     and error-page features.
//   - ScopeNoOp keys are accepted with no effect; ScopeRefused keys are
//     accepted only with the one value Weir enforces.
//
// A Tracker keeps, per key, the last valid value: an invalid value is a
// Problem and the key keeps what it had.
package globalconfig

import (
	"net/netip"
	"regexp"
	"time"

	"weir.dev/weir/proxy/compress"
)

// Config is the typed global configuration. The zero value is not valid:
// start from Defaults or Parse.
type Config struct {
	// AnnotationDefaults maps annotation names (without the
	// nginx.ingress.kubernetes.io/ prefix) to the ConfigMap's value: the
	// default of that annotation on every Ingress. Only keys the ConfigMap
	// sets are present.
	AnnotationDefaults map[string]string
	// HSTS is the Strict-Transport-Security value of TLS hosts; "" sends
	// none (hsts: "false").
	HSTS string

	Forwarded Forwarded
	Block     Block
	// ProxyProtocol reads a PROXY protocol v1 or v2 header on every newly
	// accepted connection (use-proxy-protocol), waiting at most
	// ProxyProtocolTimeout for it.
	ProxyProtocol        bool
	ProxyProtocolTimeout time.Duration

	// Compression is use-gzip, enable-brotli and their gzip-*/brotli-*
	// keys, read by proxy/compress.
	Compression compress.Config
	Errors      Errors
	Headers     Headers

	// Read by the key setters and turned into HSTS and Forwarded.Trusted
	// by finish.
	hsts struct {
		on, subdomains, preload bool
		maxAge                  int
	}
	fwd struct {
		use, realIP bool
		cidrs       []netip.Prefix
	}
	// start holds the valid values of the ScopeStart and ScopeListener
	// keys (ApplyStart);
	// compression those of the compression keys.
	start, compression map[string]string
}

// Forwarded is which peers' forwarded headers are believed.
type Forwarded struct {
	// Trusted are the peers whose forwarded headers name the client
	// (use-forwarded-headers or enable-real-ip, from proxy-real-ip-cidr);
	// nil trusts nobody beyond Weir's --trusted-proxies flag.
	Trusted []netip.Prefix
	// Header is the header the client address is read from
	// (forwarded-for-header, default X-Forwarded-For).
	Header string
	// ComputeFull extends X-Forwarded-For with the peer instead of
	// replacing it with the client address (compute-full-forwarded-for).
	ComputeFull bool
}

// Block lists the clients answered 403 before any routing.
type Block struct {
	CIDRs      []netip.Prefix
	UserAgents []Pattern
	Referers   []Pattern
}

// Empty reports whether nothing is blocked.
func (b Block) Empty() bool {
	return len(b.CIDRs) == 0 && len(b.UserAgents) == 0 && len(b.Referers) == 0
}

// Pattern is one block-user-agents or block-referers entry: an exact
// string, or a regular expression written "~re" (case-sensitive) or "~*re"
// (case-insensitive), as nginx's map does.
type Pattern struct {
	Exact string
	Re    *regexp.Regexp
}

// Match reports whether v matches the pattern.
func (p Pattern) Match(v string) bool {
	if p.Re != nil {
		return p.Re.MatchString(v)
	}
	return v == p.Exact
}

// Start are the keys read when Weir starts (listeners and upstream pools).
// The caller fills it with its flags' values, and ApplyStart overwrites the
// fields whose keys the ConfigMap sets.
type Start struct {
	KeepAlive                 time.Duration // keep-alive (0 turns keep-alive off)
	ClientHeaderTimeout       time.Duration // client-header-timeout
	ClientBodyTimeout         time.Duration // client-body-timeout
	MaxHeaderBytes            int           // large-client-header-buffers: number x size
	HTTP2                     bool          // use-http2
	HTTP2MaxConcurrentStreams int           // http2-max-concurrent-streams
	MinTLSVersion             uint16        // ssl-protocols: the lowest listed
	MaxTLSVersion             uint16        // ssl-protocols: the highest listed
	CipherSuites              string        // ssl-ciphers, checked with weirtls.ParseCiphers
	SessionTickets            bool          // ssl-session-tickets
	UpstreamKeepaliveConns    int           // upstream-keepalive-connections
	UpstreamKeepaliveTimeout  time.Duration // upstream-keepalive-timeout
	UpstreamKeepaliveRequests int           // upstream-keepalive-requests
}

// Errors is custom-http-errors: the statuses a default backend answers
// instead of the backend (ingress-nginx's ConfigMap key, also an
// annotation).
type Errors struct {
	CustomHTTPErrors []int
}
