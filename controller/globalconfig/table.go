package globalconfig

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"weir.dev/weir/proxy/compress"
)

const (
	perIngressDefault = "the default of the annotation of the same name on every Ingress; an Ingress's annotation wins"
	startOnly         = "; read when Weir starts (a change needs a restart)"
	newConnections    = "; a change applies to connections accepted afterwards"
	noWorkers         = "Weir is one Go process: there are no nginx workers to tune"
	noBuffers         = "Weir streams bodies and sizes its own buffers: nothing to tune"
	noTables          = "nginx table sizing: Weir's tables need none"
	noSessionCache    = "Go resumes TLS sessions with tickets; there is no session cache to size"
	noConfig          = "snippets are never read: Weir renders no configuration, so none can be injected"
)

// defaultTypes is ingress-nginx's gzip-types and brotli-types default.
var defaultTypes = strings.Join(compress.DefaultTypes, " ")

func boolKey(scope Scope, name, def, weir string, field func(*Config) *bool) Key {
	return Key{Name: name, Default: def, Scope: scope, Weir: weir, set: func(c *Config, v string) error {
		b, err := parseBool(v)
		*field(c) = b
		return err
	}}
}

func intKey(scope Scope, name, def, weir string, lo, hi int, field func(*Config) *int) Key {
	return Key{Name: name, Default: def, Scope: scope, Weir: weir, set: func(c *Config, v string) error {
		n, err := parseInt(v, lo, hi)
		*field(c) = n
		return err
	}}
}

// compressKey is a compression key: proxy/compress checks it, and the
// configuration is made from all of them at once (finish).
func compressKey(name, def, weir string) Key {
	return Key{Name: name, Default: def, Scope: ScopeCompression, Weir: weir, set: func(c *Config, v string) error {
		if _, errs := compress.FromKeys(map[string]string{name: v}); len(errs) > 0 {
			return errs[0]
		}
		c.compression[name] = v
		return nil
	}}
}

func startKey(name, def, weir string, f func(s *Start, v string) error) Key {
	return Key{Name: name, Default: def, Scope: ScopeStart, Weir: weir + startOnly, start: f}
}

// listenerKey is a key of the HTTP and HTTPS listeners' settings.
func listenerKey(name, def, weir string, f func(s *Start, v string) error) Key {
	return Key{Name: name, Default: def, Scope: ScopeListener, Weir: weir + newConnections, start: f}
}

// liveKey is a key whose value (kept with the Start values, since it
// overrides a flag) the proxy takes for every request that starts
// afterwards.
func liveKey(name, def, weir string, f func(s *Start, v string) error) Key {
	return Key{Name: name, Default: def, Scope: ScopeGlobal, Weir: weir, start: f}
}

// keyMaker is startKey, listenerKey or liveKey.
type keyMaker func(name, def, weir string, f func(s *Start, v string) error) Key

func startSeconds(mk keyMaker, name, def, weir string, field func(*Start) *time.Duration) Key {
	return mk(name, def, weir, func(s *Start, v string) error {
		d, err := parseSeconds(v)
		*field(s) = d
		return err
	})
}

func startInt(mk keyMaker, name, def, weir string, lo, hi int, field func(*Start) *int) Key {
	return mk(name, def, weir, func(s *Start, v string) error {
		n, err := parseInt(v, lo, hi)
		*field(s) = n
		return err
	})
}

func init() {
	register(
		route("proxy-body-size", "1m", "request bodies above the size get 413; "+perIngressDefault),
		route("proxy-connect-timeout", "5", "the connect timeout to endpoints; "+perIngressDefault),
		route("proxy-read-timeout", "60", "the longest wait between two reads from the backend; "+perIngressDefault),
		route("proxy-send-timeout", "60", "the longest wait between two writes to the backend; "+perIngressDefault),
		route("proxy-next-upstream", "error timeout", "the conditions a request is retried on another endpoint; "+perIngressDefault),
		route("proxy-next-upstream-tries", "3", "how many endpoints a request tries; "+perIngressDefault),
		route("proxy-next-upstream-timeout", "0", "the time retries may take (0: unbounded); "+perIngressDefault),
		route("load-balance", "round_robin", "the endpoint selection (Weir's own default, without the key, is least_conn); "+perIngressDefault),
		route("ssl-redirect", "true", "plain-HTTP requests to TLS hosts are redirected to HTTPS; "+perIngressDefault),
		route("force-ssl-redirect", "false", "plain-HTTP requests are redirected to HTTPS even on hosts without TLS; "+perIngressDefault),
		boolKey(ScopeRoute, "hsts", "true", "Strict-Transport-Security is sent on the HTTPS responses of TLS hosts", func(c *Config) *bool { return &c.hsts.on }),
		intKey(ScopeRoute, "hsts-max-age", "31536000", "the max-age of Strict-Transport-Security", 0, 1<<31-1, func(c *Config) *int { return &c.hsts.maxAge }),
		boolKey(ScopeRoute, "hsts-include-subdomains", "true", "includeSubDomains in Strict-Transport-Security", func(c *Config) *bool { return &c.hsts.subdomains }),
		boolKey(ScopeRoute, "hsts-preload", "false", "preload in Strict-Transport-Security", func(c *Config) *bool { return &c.hsts.preload }),

		boolKey(ScopeGlobal, "use-forwarded-headers", "false", "X-Forwarded-* from peers in proxy-real-ip-cidr are believed and passed on, as from Weir's --trusted-proxies", func(c *Config) *bool { return &c.fwd.use }),
		boolKey(ScopeGlobal, "enable-real-ip", "false", "the client address is read from forwarded-for-header of peers in proxy-real-ip-cidr", func(c *Config) *bool { return &c.fwd.realIP }),
		boolKey(ScopeGlobal, "compute-full-forwarded-for", "false", "X-Forwarded-For from a believed peer is extended with the peer; otherwise it is replaced by the client address", func(c *Config) *bool { return &c.Forwarded.ComputeFull }),
		Key{Name: "forwarded-for-header", Default: "X-Forwarded-For", Scope: ScopeGlobal, Weir: "the header a believed peer names the client in",
			set: func(c *Config, v string) error {
				v = strings.TrimSpace(v)
				if !httpguts.ValidHeaderFieldName(v) {
					return fmt.Errorf("%s is not a header name", quote(v))
				}
				c.Forwarded.Header = http.CanonicalHeaderKey(v)
				return nil
			}},
		Key{Name: "proxy-real-ip-cidr", Default: "0.0.0.0/0", Scope: ScopeGlobal, Weir: "the peers whose forwarded headers are believed when use-forwarded-headers or enable-real-ip is on",
			set: func(c *Config, v string) (err error) { c.fwd.cidrs, err = parseCIDRs(v); return err }},
		Key{Name: "block-cidrs", Scope: ScopeGlobal, Weir: "clients in these ranges get 403 on every host",
			set: func(c *Config, v string) (err error) { c.Block.CIDRs, err = parseCIDRs(v); return err }},
		Key{Name: "block-user-agents", Scope: ScopeGlobal, Weir: "requests whose User-Agent matches get 403 (exact, ~regex, ~*regex)",
			set: func(c *Config, v string) (err error) { c.Block.UserAgents, err = parsePatterns(v); return err }},
		Key{Name: "block-referers", Scope: ScopeGlobal, Weir: "requests whose Referer matches get 403 (exact, ~regex, ~*regex)",
			set: func(c *Config, v string) (err error) { c.Block.Referers, err = parsePatterns(v); return err }},
		boolKey(ScopeGlobal, "use-proxy-protocol", "false", "every newly accepted connection on the HTTP and HTTPS ports must start with a PROXY protocol v1 or v2 header, which names the client", func(c *Config) *bool { return &c.ProxyProtocol }),
		intKey(ScopeGlobal, "limit-req-status-code", "503", "the status of a request over an Ingress's limit-rps or limit-rpm (400-599)", 400, 599,
			func(c *Config) *int { return &c.LimitReqStatus }),
		intKey(ScopeGlobal, "limit-conn-status-code", "503", "the status of a request over an Ingress's limit-connections (400-599)", 400, 599,
			func(c *Config) *int { return &c.LimitConnStatus }),
		Key{Name: "proxy-protocol-header-timeout", Default: "5s", Scope: ScopeGlobal, Weir: "the time a connection gets to send its PROXY protocol header",
			set: func(c *Config, v string) (err error) { c.ProxyProtocolTimeout, err = parseSeconds(v); return err }},

		startSeconds(listenerKey, "keep-alive", "75", "idle client connections are closed after this (Weir's --idle-timeout)", func(s *Start) *time.Duration { return &s.KeepAlive }),
		startSeconds(listenerKey, "client-header-timeout", "60", "the time a client gets for its request headers (Weir's --read-header-timeout)", func(s *Start) *time.Duration { return &s.ClientHeaderTimeout }),
		startSeconds(liveKey, "client-body-timeout", "60", "a client idle this long in its request body gets 408 (Weir's --client-body-timeout); a change applies to requests that start afterwards", func(s *Start) *time.Duration { return &s.ClientBodyTimeout }),
		listenerKey("large-client-header-buffers", "4 8k", "request headers above number x size bytes get 431 (Weir's --max-header-bytes)",
			func(s *Start, v string) (err error) { s.MaxHeaderBytes, err = parseHeaderBuffers(v); return err }),
		listenerKey("use-http2", "true", "HTTP/2 is offered by ALPN on the HTTPS port",
			func(s *Start, v string) (err error) { s.HTTP2, err = parseBool(v); return err }),
		startInt(listenerKey, "http2-max-concurrent-streams", "128", "the streams one HTTP/2 connection may have open", 1, 1<<20, func(s *Start) *int { return &s.HTTP2MaxConcurrentStreams }),
		listenerKey("ssl-protocols", "TLSv1.2 TLSv1.3", "the TLS versions accepted (1.0 and 1.1 are refused)",
			func(s *Start, v string) (err error) {
				s.MinTLSVersion, s.MaxTLSVersion, err = parseProtocols(v)
				return err
			}),
		listenerKey("ssl-ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305",
			"the TLS 1.2 cipher suites offered (TLS 1.3's are fixed by Go)",
			func(s *Start, v string) (err error) { s.CipherSuites, err = parseCiphers(v); return err }),
		listenerKey("ssl-session-tickets", "false", "TLS session resumption by ticket (Weir's own default is on, with keys rotated hourly)",
			func(s *Start, v string) (err error) { s.SessionTickets, err = parseBool(v); return err }),
		startInt(startKey, "upstream-keepalive-connections", "320", "idle connections kept per endpoint (at least 1: Weir always reuses connections)", 1, 1<<16, func(s *Start) *int { return &s.UpstreamKeepaliveConns }),
		startSeconds(startKey, "upstream-keepalive-timeout", "60", "idle endpoint connections are closed after this (Weir's own default, without the key, is 30 s: below common backends' keep-alive timeouts, so Weir closes first)", func(s *Start) *time.Duration { return &s.UpstreamKeepaliveTimeout }),
		startInt(startKey, "upstream-keepalive-requests", "10000", "an endpoint connection is closed after carrying this many requests", 1, 1<<30, func(s *Start) *int { return &s.UpstreamKeepaliveRequests }),

		refused("allow-snippet-annotations", "refused: snippet annotations are never read, whatever this key says", "false"),
		refused("http-snippet", noConfig), refused("server-snippet", noConfig), refused("location-snippet", noConfig),
		refused("main-snippet", noConfig), refused("stream-snippet", noConfig),
	)
	// Response compression (proxy/compress reads these keys) and the
	// global custom error statuses.
	register(
		compressKey("use-gzip", "false", "responses of gzip-types are compressed with gzip when the client accepts it"),
		compressKey("gzip-level", "1", "the gzip compression level (1-9)"),
		compressKey("gzip-min-length", "256", "responses shorter than this are not compressed"),
		compressKey("gzip-types", defaultTypes, "the MIME types gzip compresses"),
		compressKey("enable-brotli", "false", "responses of brotli-types are compressed with brotli when the client accepts it"),
		compressKey("brotli-level", "4", "the brotli compression level (0-11)"),
		compressKey("brotli-min-length", "20", "responses shorter than this are not compressed with brotli (gzip still applies when they reach gzip-min-length and the client accepts it)"),
		compressKey("brotli-types", defaultTypes, "the MIME types brotli compresses"),
		Key{Name: "custom-http-errors", Scope: ScopeErrors, Weir: "backend responses with these statuses get the body of --default-backend-service (on Ingresses without their own custom-http-errors)",
			set: func(c *Config, v string) (err error) { c.Errors.CustomHTTPErrors, err = parseStatuses(v); return err }},
	)
	register(headerKeys()...) // headers.go
	registerRest()
}

// registerRest registers the no-op keys and those Weir does not implement.
func registerRest() {
	register(
		Key{Name: "log-format-upstream", Scope: ScopeNoOp, Weir: "accepted and ignored: Weir writes one JSON line per request with fixed fields (docs/configmap.md, Access log)"},
		Key{Name: "server-tokens", Default: "false", Scope: ScopeNoOp, Weir: "Weir never names itself or its version in a Server header"},
		Key{Name: "log-format-escape-json", Scope: ScopeNoOp, Weir: "Weir's access log is always JSON"},
		Key{Name: "annotation-value-word-blocklist", Scope: ScopeNoOp, Weir: "Weir renders no configuration, so no annotation value can inject any"},
		Key{Name: "ssl-dh-param", Scope: ScopeNoOp, Weir: "Go offers no finite-field Diffie-Hellman suites: nothing to configure"},
		Key{Name: "worker-shutdown-timeout", Scope: ScopeNoOp, Weir: "in-flight requests get Weir's --drain-period on shutdown"},
		Key{Name: "bind-address", Scope: ScopeNoOp, Weir: "Weir's --bind-address flag sets it"},
		Key{Name: "error-log-level", Scope: ScopeNoOp, Weir: "Weir's --log-level flag sets it"},
		Key{Name: "enable-underscores-in-headers", Scope: ScopeNoOp, Weir: "Weir's --enable-underscores-in-headers flag sets it (default: dropped, as ingress-nginx)"},
		Key{Name: "generate-request-id", Scope: ScopeNoOp, Weir: "Weir always passes on or generates X-Request-ID"},
		Key{Name: "keep-alive-requests", Default: "1000", Scope: ScopeNoOp, Weir: "accepted and ignored: Weir does not cap the requests of a client connection (keep-alive and the idle timeout still apply)"},
	)
	register(noop(noWorkers, "worker-processes", "max-worker-connections", "max-worker-open-files", "worker-cpu-affinity", "reuse-port")...)
	register(noop(noBuffers, "proxy-buffer-size", "proxy-buffers-number", "proxy-buffering", "client-body-buffer-size")...)
	register(noop(noTables, "server-name-hash-bucket-size", "server-name-hash-max-size", "variables-hash-bucket-size", "map-hash-bucket-size")...)
	register(noop(noSessionCache, "ssl-session-cache", "ssl-session-cache-size", "ssl-session-timeout")...)
	register(
		missing("http-redirect-code", "Weir redirects to HTTPS with 308", "308"),
		missing("no-tls-redirect-locations", "only /.well-known/acme-challenge is exempt from the HTTPS redirect", "/.well-known/acme-challenge"),
		missing("disable-access-log", "Weir's --access-log=false turns the access log off", "false"),
		missing("skip-access-log-urls", "every request is logged"),
		missing("enable-opentelemetry", "no tracing spans are exported (X-Request-ID is passed on)", "false"),
		missing("whitelist-source-range", "the paths are open to every client: set allowlist-source-range on each Ingress before moving it"),
		missing("denylist-source-range", "the listed clients are not refused: set denylist-source-range on each Ingress before moving it"),
		missing("global-auth-url", "the paths are served WITHOUT the global external authentication: do not move them yet"),
		missing("global-rate-limit-memcached-host", "requests are not rate limited"),
		missing("hide-headers", "the headers reach clients"),
		missing("enable-modsecurity", "requests are not inspected by a web application firewall", "false"),
		missing("enable-owasp-modsecurity-crs", "requests are not inspected by a web application firewall", "false"),
		missing("ssl-ecdh-curve", "Go's default curves are used"),
	)
}
