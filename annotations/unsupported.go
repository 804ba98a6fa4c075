package annotations

import "strings"

// unsupported are ingress-nginx annotations Weir recognises but does not
// implement yet. An Ingress that uses one gets an UnsupportedAnnotation
// warning; the rest of the Ingress is served.
var unsupported = []struct{ name, doc string }{
	{"preserve-trailing-slash", "Keep the trailing slash in SSL redirects."},
	{"from-to-www-redirect", "Redirect between www.host and host."},
	{"enable-cors", "Answer CORS preflights and add CORS headers."},
	{"cors-allow-origin", "CORS allowed origins."},
	{"cors-allow-methods", "CORS allowed methods."},
	{"cors-allow-headers", "CORS allowed headers."},
	{"cors-expose-headers", "CORS exposed headers."},
	{"cors-allow-credentials", "CORS credentials."},
	{"cors-max-age", "CORS preflight cache time."},
	{"limit-rps", "Requests per second per client."},
	{"limit-rpm", "Requests per minute per client."},
	{"limit-connections", "Concurrent connections per client."},
	{"limit-burst-multiplier", "Burst allowance of rate limits."},
	{"limit-allowlist", "Clients exempt from rate limits."},
	{"limit-whitelist", "Alias of limit-allowlist."},
	{"custom-http-errors", "Serve listed backend errors from the default backend."},
	{"default-backend", "Service answering custom errors and unavailable paths."},
	{"auth-type", "Basic authentication."},
	{"auth-secret", "Secret with basic-auth users."},
	{"auth-secret-type", "auth-file or auth-map."},
	{"auth-realm", "Basic-auth realm."},
	{"auth-url", "External authentication service."},
	{"auth-method", "Method of the external authentication request."},
	{"auth-signin", "Sign-in redirect of external authentication."},
	{"auth-response-headers", "Headers copied from the authentication response."},
	{"auth-request-redirect", "X-Auth-Request-Redirect of external authentication."},
	{"auth-tls-secret", "CA for client-certificate authentication."},
	{"auth-tls-verify-client", "Client-certificate verification mode."},
	{"auth-tls-verify-depth", "Client-certificate chain depth."},
	{"auth-tls-pass-certificate-to-upstream", "Pass the client certificate upstream."},
	{"service-upstream", "Use the Service's ClusterIP instead of its endpoints."},
	{"proxy-ssl-secret", "Client certificate and CA for HTTPS backends."},
	{"proxy-ssl-verify", "Verify HTTPS backends."},
	{"proxy-ssl-name", "Name verified on HTTPS backends."},
	{"proxy-ssl-server-name", "Send SNI to HTTPS backends."},
	{"ssl-passthrough", "Route TLS by SNI without terminating it."},
	{"custom-headers", "Response headers from a ConfigMap."},
	{"mirror-target", "Copy requests to a second backend."},
	{"mirror-request-body", "Include the body in mirrored requests."},
	{"proxy-buffering", "Buffer responses."},
	{"proxy-request-buffering", "Buffer request bodies."},
	{"proxy-http-version", "HTTP version to backends."},
}

// failClosed are the unsupported annotations that turn on an access
// restriction (ingress-nginx enables basic/digest auth with auth-type,
// external auth with auth-url and client certificates with auth-tls-secret).
var failClosed = map[string]bool{"auth-type": true, "auth-url": true, "auth-tls-secret": true}

// snippetNames are configuration-injection annotations. Weir renders no
// configuration, so they cannot work and are always rejected.
var snippetNames = []string{
	"configuration-snippet", "server-snippet", "auth-snippet", "stream-snippet",
	"modsecurity-snippet", "enable-modsecurity", "enable-owasp-core-rules", "modsecurity-transaction-id",
	"lua-resty-waf", "lua-resty-waf-debug", "lua-resty-waf-ignore-rulesets", "lua-resty-waf-extra-rules",
	"lua-resty-waf-allow-unknown-content-types", "lua-resty-waf-score-threshold", "lua-resty-waf-process-multipart-body",
}

func registerUnsupported() {
	for _, u := range unsupported {
		if failClosed[u.name] {
			register(Entry{Name: u.name, Scope: ScopeLocation, Risk: RiskCritical, FailClosed: true,
				Doc: u.doc + " Not implemented: it restricts access, so every path of the Ingress answers 503 (fail closed)."})
			continue
		}
		register(Entry{Name: u.name, Scope: ScopeLocation, Risk: RiskMedium, Doc: u.doc + " Not implemented: the Ingress gets a warning."})
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
