package annotations

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every annotation whose value reaches the wire refuses control bytes: the
// annotation is ignored with a problem, never written as a new header line.
func TestWireValuesRefuseControlBytes(t *testing.T) {
	for _, bad := range []string{"\r\nX-Injected: 1", "\n", "a\x00b", "a\x7fb"} {
		for _, a := range [][]string{
			{"upstream-vhost", "svc" + bad},
			{"x-forwarded-prefix", "/p" + bad},
			{"rewrite-target", "/$1" + bad},
			{"app-root", "/app" + bad},
			{"affinity", "cookie", "session-cookie-name", "c" + bad},
			{"affinity", "cookie", "session-cookie-path", "/" + bad},
			{"affinity", "cookie", "session-cookie-domain", "a.example" + bad},
			{"affinity", "cookie", "session-cookie-samesite", "Lax" + bad},
			{"canary", "true", "canary-by-header", "X-C" + bad},
			{"canary", "true", "canary-by-header", "X", "canary-by-header-value", "v" + bad},
			{"canary", "true", "canary-by-cookie", "c" + bad},
			{"server-alias", "a" + bad + ".example"},
			{"auth-type", "basic", "auth-secret", "u", "auth-realm", "r" + bad},
			{"auth-url", "http://a", "auth-signin", "https://s/" + bad},
		} {
			c, ps := Parse(ann(a...))
			require.NotEmpty(t, ps, "%q", a)
			assertClean(t, c)
		}
		for _, a := range [][]string{{"permanent-redirect", "https://x/" + bad}, {"temporal-redirect", "/x" + bad}} {
			c, ps := Parse(ann(a...))
			require.NotEmpty(t, ps, "%q", a)
			assert.True(t, c.DropIngress, "an invalid redirect drops the Ingress, as ingress-nginx does")
		}
	}
	c, ps := Parse(ann("affinity", "cookie", "session-cookie-path", "/a; Domain=evil.example"))
	assert.Equal(t, "/", c.Affinity.Path, "no cookie attribute injection")
	assert.Len(t, ps, 1)
	c, _ = Parse(ann("app-root", "//evil.example/"))
	assert.Empty(t, c.AppRoot, "a protocol-relative app-root would redirect to another site")
	c, _ = Parse(ann("upstream-vhost", "internal.svc:8080"))
	assert.Equal(t, "internal.svc:8080", c.UpstreamVhost)
	c, _ = Parse(ann("canary", "true", "canary-by-header", "X/Y"))
	assert.Empty(t, c.Canary.Header, "/ is not allowed in a header name")
}

func assertClean(t *testing.T, c *Config) {
	t.Helper()
	walkStrings(c, func(path, s string) {
		assert.False(t, strings.ContainsAny(s, "\r\n\x00\x7f"), "%s = %q", path, s)
	})
}

// Numeric annotations are bounded: a huge value is a problem and the default
// applies; nothing wraps around.
func TestNumericBounds(t *testing.T) {
	huge := "99999999999999999999"
	c, ps := Parse(ann("proxy-read-timeout", huge, "proxy-send-timeout", "9223372036", "proxy-connect-timeout", "-1",
		"proxy-next-upstream-timeout", "604801", "proxy-next-upstream-tries", "101"))
	assert.Len(t, ps, 5)
	assert.Equal(t, Timeouts{5 * time.Second, 60 * time.Second, 60 * time.Second}, c.Timeouts)
	assert.Zero(t, c.NextUpstream.Timeout)
	assert.Equal(t, 3, c.NextUpstream.Tries)

	c, ps = Parse(ann("proxy-read-timeout", "604800"))
	assert.Empty(t, ps)
	assert.Equal(t, MaxTimeout, c.Timeouts.Read, "the bound itself is allowed")

	c, ps = Parse(ann("affinity", "cookie", "session-cookie-max-age", huge, "session-cookie-expires", "34560001"))
	assert.Len(t, ps, 2)
	assert.Zero(t, c.Affinity.MaxAge)

	c, ps = ParseCanary(ann("canary", "true", "canary-weight-total", huge, "canary-weight", huge))
	assert.Len(t, ps, 2)
	assert.Equal(t, 100, c.Canary.WeightTotal)
	assert.Equal(t, 0, c.Canary.Weight)
	assert.Contains(t, ps[0].Message, "larger than")

	c, ps = Parse(map[string]string{"weir.dev/health-check-path": "/h", "weir.dev/health-check-interval": huge})
	assert.Len(t, ps, 1)
	assert.Equal(t, 5*time.Second, c.HealthCheck.Interval)
}

func TestDidYouMean(t *testing.T) {
	for typo, want := range map[string]string{
		"enable-cros":             "enable-cors",
		"auth-urls":               "auth-url",
		"limit-rsp":               "limit-rps",
		"proxy-body-sise":         "proxy-body-size",
		"whitelist-source-ranges": "whitelist-source-range",
	} {
		_, ps := Parse(ann(typo, "x"))
		require.Len(t, ps, 1, typo)
		assert.Equal(t, ReasonUnknownAnnotation, ps[0].Reason)
		assert.Contains(t, ps[0].Message, `did you mean "`+Prefix+want+`"?`, typo)
	}
	_, ps := Parse(ann("completely-unrelated-key", "x"))
	require.Len(t, ps, 1)
	assert.NotContains(t, ps[0].Message, "did you mean")
	_, ps = Parse(map[string]string{"weir.dev/health-check-pth": "/"})
	require.Len(t, ps, 1)
	assert.Contains(t, ps[0].Message, `did you mean "weir.dev/health-check-path"?`)
}

// ingressNginxAnnotations is every annotation key ingress-nginx v1.15.1
// reads (its internal/ingress/annotations parsers).
var ingressNginxAnnotations = strings.Fields(`affinity affinity-canary-behavior affinity-mode allowlist-source-range app-root
auth-always-set-cookie auth-cache-duration auth-cache-key auth-keepalive auth-keepalive-requests auth-keepalive-share-vars
auth-keepalive-timeout auth-method auth-proxy-set-headers auth-realm auth-request-redirect auth-response-headers auth-secret
auth-secret-type auth-signin auth-signin-redirect-param auth-snippet auth-tls-error-page auth-tls-match-cn
auth-tls-pass-certificate-to-upstream auth-tls-secret auth-tls-verify-client auth-tls-verify-depth auth-type auth-url
backend-protocol canary canary-by-cookie canary-by-header canary-by-header-pattern canary-by-header-value canary-weight
canary-weight-total client-body-buffer-size configuration-snippet connection-proxy-header cors-allow-credentials
cors-allow-headers cors-allow-methods cors-allow-origin cors-expose-headers cors-max-age custom-headers custom-http-errors
default-backend denylist-source-range disable-proxy-intercept-errors enable-access-log enable-cors enable-global-auth
enable-modsecurity enable-opentelemetry enable-owasp-core-rules enable-rewrite-log fastcgi-index fastcgi-params-configmap
force-ssl-redirect from-to-www-redirect http2-push-preload limit-allowlist limit-burst-multiplier limit-connections
limit-rate limit-rate-after limit-rpm limit-rps limit-whitelist load-balance mirror-host mirror-request-body mirror-target
modsecurity-snippet modsecurity-transaction-id opentelemetry-operation-name opentelemetry-trust-incoming-span
permanent-redirect permanent-redirect-code preserve-trailing-slash proxy-body-size proxy-buffer-size proxy-buffering
proxy-buffers-number proxy-busy-buffers-size proxy-connect-timeout proxy-cookie-domain proxy-cookie-path proxy-http-version
proxy-max-temp-file-size proxy-next-upstream proxy-next-upstream-timeout proxy-next-upstream-tries proxy-read-timeout
proxy-redirect-from proxy-redirect-to proxy-request-buffering proxy-send-timeout proxy-ssl-ciphers proxy-ssl-name
proxy-ssl-protocols proxy-ssl-secret proxy-ssl-server-name proxy-ssl-verify proxy-ssl-verify-depth relative-redirects
rewrite-target satisfy server-alias server-snippet service-upstream session-cookie-change-on-failure
session-cookie-conditional-samesite-none session-cookie-domain session-cookie-expires session-cookie-max-age
session-cookie-name session-cookie-path session-cookie-samesite session-cookie-secure ssl-ciphers ssl-passthrough
ssl-prefer-server-ciphers ssl-redirect stream-snippet temporal-redirect temporal-redirect-code upstream-hash-by
upstream-hash-by-subset upstream-hash-by-subset-size upstream-vhost use-port-in-redirects use-regex whitelist-source-range
x-forwarded-prefix`)

func TestEveryIngressNginxAnnotationIsKnown(t *testing.T) {
	for _, name := range ingressNginxAnnotations {
		e, ok := Lookup(Prefix + name)
		if !assert.True(t, ok, name) {
			continue
		}
		assert.Contains(t, []Status{Implemented, NoOp, NotImplemented, FailClosed, Rejected}, e.Status, name)
		if e.Status != Implemented {
			assert.NotEmpty(t, e.Consequence, name)
		}
		_, ps := Parse(ann(name, ""))
		for _, p := range ps {
			assert.NotEqual(t, ReasonUnknownAnnotation, p.Reason, name)
		}
	}
}
