package annotations

import "strings"

// catalog lists the ingress-nginx annotations Weir knows but does not
// implement (or need): every key ingress-nginx v1.15 reads is in the
// registry, so none of them is reported as unknown. Entries registered later
// (the implemented families) replace these.
var catalog = []struct {
	name, doc   string
	status      Status
	consequence string
}{
	{"preserve-trailing-slash", "Keep the trailing slash in SSL redirects.", NoOp, "Weir's SSL redirects always keep the path as received, trailing slash included"},
	{"from-to-www-redirect", "Redirect between www.host and host.", NotImplemented, "no redirect between www.host and host"},
	{"disable-proxy-intercept-errors", "Stop intercepting backend errors.", NoOp, "Weir never intercepts backend errors"},
	{"auth-keepalive", "Idle keep-alive connections to the auth service.", NoOp, "Weir keeps its own bounded pool of connections to auth services"},
	{"auth-keepalive-requests", "Requests per keep-alive connection to the auth service.", NoOp, "Weir keeps its own bounded pool of connections to auth services"},
	{"auth-keepalive-timeout", "Idle time of keep-alive connections to the auth service.", NoOp, "Weir keeps its own bounded pool of connections to auth services"},
	{"auth-keepalive-share-vars", "Share nginx variables with the auth subrequest.", NoOp, "nginx internals; nothing to share in Weir"},
	{"enable-global-auth", "Apply the ConfigMap's global-auth-url.", NoOp, "Weir has no global external auth"},
	{"satisfy", "any: either the source range or the authentication suffices.", NotImplemented, "every restriction must pass (satisfy all)"},
	{"global-rate-limit", "Rate limit shared through memcached (removed in ingress-nginx 1.12).", NotImplemented, "no global limit applies; use limit-rps or limit-rpm"},
	{"global-rate-limit-window", "Window of global-rate-limit.", NotImplemented, "no global limit applies"},
	{"global-rate-limit-key", "Key of global-rate-limit.", NotImplemented, "no global limit applies"},
	{"global-rate-limit-ignored-cidrs", "Clients exempt from global-rate-limit.", NotImplemented, "no global limit applies"},
	{"service-upstream", "Use the Service's ClusterIP instead of its endpoints.", NotImplemented, "the Service's endpoints are balanced directly"},
	{"ssl-ciphers", "Cipher suites offered to clients.", NotImplemented, "Weir's default cipher suites apply"},
	{"ssl-prefer-server-ciphers", "Prefer the server's cipher order.", NoOp, "Go's TLS stack chooses the cipher suite"},
	{"proxy-buffering", "Buffer responses.", NoOp, "Weir streams responses; buffering only changes nginx's memory use"},
	{"proxy-request-buffering", "Buffer request bodies before proxying.", NotImplemented, "request bodies are streamed to the backend as they arrive"},
	{"proxy-http-version", "HTTP version to backends.", NotImplemented, "requests are sent as HTTP/1.1"},
	{"proxy-buffer-size", "nginx response header buffer.", NoOp, "tunes nginx buffers; Weir streams"},
	{"proxy-buffers-number", "nginx response buffers.", NoOp, "tunes nginx buffers; Weir streams"},
	{"proxy-busy-buffers-size", "nginx busy buffers.", NoOp, "tunes nginx buffers; Weir streams"},
	{"proxy-max-temp-file-size", "nginx temporary file size.", NoOp, "tunes nginx buffers; Weir streams"},
	{"client-body-buffer-size", "nginx request body buffer.", NoOp, "tunes nginx buffers; Weir streams"},
	{"proxy-cookie-domain", "Rewrite Set-Cookie domains from the backend.", NotImplemented, "Set-Cookie from the backend is passed unchanged"},
	{"proxy-cookie-path", "Rewrite Set-Cookie paths from the backend.", NotImplemented, "Set-Cookie from the backend is passed unchanged"},
	{"proxy-redirect-from", "Rewrite Location from the backend.", NotImplemented, "Location from the backend is passed unchanged"},
	{"proxy-redirect-to", "Rewrite Location from the backend.", NotImplemented, "Location from the backend is passed unchanged"},
	{"connection-proxy-header", "Connection header sent to the backend.", NotImplemented, "Weir sets the Connection header itself"},
	{"enable-access-log", "Turn the access log off.", NotImplemented, "requests are logged as usual"},
	{"enable-rewrite-log", "nginx rewrite debug log.", NoOp, "nginx debugging only"},
	{"enable-opentelemetry", "OpenTelemetry tracing.", NotImplemented, "no traces are emitted"},
	{"opentelemetry-trust-incoming-span", "Continue incoming traces.", NotImplemented, "no traces are emitted"},
	{"opentelemetry-operation-name", "Span name.", NotImplemented, "no traces are emitted"},
	{"enable-opentracing", "OpenTracing (removed in ingress-nginx 1.10).", NotImplemented, "no traces are emitted"},
	{"opentracing-trust-incoming-span", "OpenTracing (removed in ingress-nginx 1.10).", NotImplemented, "no traces are emitted"},
	{"enable-influxdb", "InfluxDB metrics (removed from ingress-nginx).", NotImplemented, "no InfluxDB metrics are sent"},
	{"influxdb-measurement", "InfluxDB metrics (removed from ingress-nginx).", NotImplemented, "no InfluxDB metrics are sent"},
	{"influxdb-port", "InfluxDB metrics (removed from ingress-nginx).", NotImplemented, "no InfluxDB metrics are sent"},
	{"influxdb-host", "InfluxDB metrics (removed from ingress-nginx).", NotImplemented, "no InfluxDB metrics are sent"},
	{"influxdb-server-name", "InfluxDB metrics (removed from ingress-nginx).", NotImplemented, "no InfluxDB metrics are sent"},
	{"http2-push-preload", "HTTP/2 server push of preload links.", NoOp, "browsers no longer support HTTP/2 push"},
	{"session-cookie-conditional-samesite-none", "Omit SameSite=None for old browsers.", NotImplemented, "SameSite=None is sent to every browser"},
	{"use-port-in-redirects", "Keep the port in redirects.", NotImplemented, "redirects carry no port"},
	{"relative-redirects", "Relative Location headers.", NotImplemented, "Location headers are written as Weir builds them"},
	{"fastcgi-index", "FastCGI index file.", NotImplemented, "FastCGI backends are not supported"},
	{"fastcgi-params-configmap", "FastCGI parameters.", NotImplemented, "FastCGI backends are not supported"},
}

// snippetNames are configuration-injection annotations. Weir renders no
// configuration, so they cannot work and are always rejected.
var snippetNames = []string{
	"configuration-snippet", "server-snippet", "auth-snippet", "stream-snippet",
	"modsecurity-snippet", "enable-modsecurity", "enable-owasp-core-rules", "modsecurity-transaction-id",
	"lua-resty-waf", "lua-resty-waf-debug", "lua-resty-waf-ignore-rulesets", "lua-resty-waf-extra-rules",
	"lua-resty-waf-allow-unknown-content-types", "lua-resty-waf-score-threshold", "lua-resty-waf-process-multipart-body",
}

func registerCatalog() {
	for _, u := range catalog {
		if u.status == "" {
			continue
		}
		e := Entry{Name: u.name, Scope: ScopeLocation, Risk: RiskMedium, Status: u.status, Consequence: u.consequence}
		switch u.status {
		case NoOp:
			e.Supported, e.Risk = true, RiskLow
			e.Doc = u.doc + " No-op: " + u.consequence + "."
		case FailClosed:
			e.FailClosed, e.Risk = true, RiskCritical
			e.Doc = u.doc + " Not implemented: it restricts access, so " + u.consequence + " (fail closed)."
		default:
			e.Doc = u.doc + " Not implemented (warning): " + u.consequence + "."
		}
		register(e)
	}
	for _, n := range snippetNames {
		register(Entry{Name: n, Scope: ScopeLocation, Risk: RiskCritical, Snippet: true,
			Doc: "Configuration injection: never supported; the Ingress gets a problem and the value is ignored."})
	}
}

// isSnippet catches snippet-like keys even when they are not registered.
func isSnippet(name string) bool {
	return strings.HasSuffix(name, "-snippet") || strings.HasPrefix(name, "lua-resty-waf") ||
		strings.HasPrefix(name, "modsecurity") || strings.HasPrefix(name, "enable-modsecurity")
}
