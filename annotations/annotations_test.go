package annotations

import (
	"net/netip"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ann(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[Prefix+kv[i]] = kv[i+1]
	}
	return m
}

func reasons(ps []Problem) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.Reason)
	}
	sort.Strings(out)
	return out
}

func TestCanaryAnnotations(t *testing.T) {
	cases := []struct {
		name    string
		in      map[string]string
		check   func(t *testing.T, c Canary)
		reasons []string
	}{
		{"defaults", ann(), func(t *testing.T, c Canary) {
			assert.Equal(t, Canary{WeightTotal: 100}, c)
		}, nil},
		{"ParseBool spellings", ann("canary", "T"), func(t *testing.T, c Canary) { assert.True(t, c.Enabled) }, nil},
		{"canary 1", ann("canary", "1"), func(t *testing.T, c Canary) { assert.True(t, c.Enabled) }, nil},
		{"invalid canary is false", ann("canary", "yes"), func(t *testing.T, c Canary) { assert.False(t, c.Enabled) },
			[]string{ReasonInvalidValue}},
		{"weight", ann("canary", "true", "canary-weight", "30"), func(t *testing.T, c Canary) { assert.Equal(t, 30, c.Weight) }, nil},
		{"invalid weight is 0", ann("canary", "true", "canary-weight", "ten"), func(t *testing.T, c Canary) { assert.Equal(t, 0, c.Weight) },
			[]string{ReasonInvalidCanaryWeight}},
		{"weight clamped to total", ann("canary", "true", "canary-weight", "150"), func(t *testing.T, c Canary) { assert.Equal(t, 100, c.Weight) },
			[]string{ReasonInvalidCanaryWeight}},
		{"negative weight clamped to 0", ann("canary", "true", "canary-weight", "-5"), func(t *testing.T, c Canary) { assert.Equal(t, 0, c.Weight) },
			[]string{ReasonInvalidCanaryWeight}},
		{"weight out of total", ann("canary", "true", "canary-weight", "5", "canary-weight-total", "10"), func(t *testing.T, c Canary) {
			assert.Equal(t, 5, c.Weight)
			assert.Equal(t, 10, c.WeightTotal)
		}, nil},
		{"total 0 is invalid", ann("canary", "true", "canary-weight-total", "0"), func(t *testing.T, c Canary) { assert.Equal(t, 100, c.WeightTotal) },
			[]string{ReasonInvalidCanaryWeight}},
		{"header", ann("canary", "true", "canary-by-header", "X-Canary"), func(t *testing.T, c Canary) { assert.Equal(t, "X-Canary", c.Header) }, nil},
		{"bad header turns rule off", ann("canary", "true", "canary-by-header", "X Canary"), func(t *testing.T, c Canary) { assert.Empty(t, c.Header) },
			[]string{ReasonInvalidCanaryHeader}},
		{"header value", ann("canary", "true", "canary-by-header", "X", "canary-by-header-value", "v2.1~a/b:c"), func(t *testing.T, c Canary) {
			assert.Equal(t, "v2.1~a/b:c", c.HeaderValue)
		}, nil},
		{"bad header value turns the header rule off", ann("canary", "true", "canary-by-header", "X", "canary-by-header-value", "a b"), func(t *testing.T, c Canary) {
			assert.Empty(t, c.HeaderValue)
			assert.Empty(t, c.Header, "no silent fallback to always/never")
		}, []string{ReasonInvalidCanaryHeader}},
		{"pattern without header", ann("canary", "true", "canary-by-header-pattern", "^a"), func(t *testing.T, c Canary) {
			assert.Empty(t, c.Header)
		}, []string{ReasonInvalidCanaryHeader}},
		{"pattern", ann("canary", "true", "canary-by-header", "X", "canary-by-header-pattern", "^v[0-9]+$"), func(t *testing.T, c Canary) {
			require.NotNil(t, c.HeaderPattern)
			assert.True(t, c.HeaderPattern.MatchString("v2"))
		}, nil},
		{"invalid pattern turns rule off", ann("canary", "true", "canary-by-header", "X", "canary-by-header-pattern", "(?=x)"), func(t *testing.T, c Canary) {
			assert.Nil(t, c.HeaderPattern)
			assert.Equal(t, "X", c.Header)
		}, []string{ReasonInvalidCanaryPattern}},
		{"value wins over pattern", ann("canary", "true", "canary-by-header", "X", "canary-by-header-value", "v", "canary-by-header-pattern", ".*"), func(t *testing.T, c Canary) {
			assert.Nil(t, c.HeaderPattern)
			assert.Equal(t, "v", c.HeaderValue)
		}, []string{ReasonCanaryValueAndPattern}},
		{"cookie", ann("canary", "true", "canary-by-cookie", "use_canary"), func(t *testing.T, c Canary) { assert.Equal(t, "use_canary", c.Cookie) }, nil},
		{"bad cookie", ann("canary", "true", "canary-by-cookie", "a;b"), func(t *testing.T, c Canary) { assert.Empty(t, c.Cookie) },
			[]string{ReasonInvalidCanaryCookie}},
		{"canary annotations without canary", ann("canary-weight", "10"), func(t *testing.T, c Canary) {
			assert.False(t, c.Enabled)
		}, []string{ReasonCanaryAnnotationsWithoutFlag}},
		{"legacy affinity behaviour", ann("canary", "true", "affinity-canary-behavior", "legacy"), func(t *testing.T, c Canary) { assert.True(t, c.Legacy) }, nil},
		{"anything else is sticky", ann("canary", "true", "affinity-canary-behavior", "Legacy"), func(t *testing.T, c Canary) { assert.False(t, c.Legacy) }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, ps := ParseCanary(tc.in)
			tc.check(t, c.Canary)
			want := tc.reasons
			if want == nil {
				want = []string{}
			}
			assert.Equal(t, want, reasons(ps))
		})
	}
}

// A value that is not a number is reported as such, not against a minimum
// the user never wrote (canary-weight's is -2^31, clamped later).
func TestIntegerProblemMessages(t *testing.T) {
	_, ps := ParseCanary(ann("canary", "true", "canary-weight", "twenty"))
	require.Len(t, ps, 1)
	assert.Equal(t, `"twenty" is not an integer; using 0`, ps[0].Message)
	_, ps = ParseCanary(ann("canary", "true", "canary-weight-total", "0"))
	require.Len(t, ps, 1)
	assert.Equal(t, `"0" is not an integer of at least 1; using 100`, ps[0].Message)
}

func TestCanaryIngressIgnoresOtherAnnotations(t *testing.T) {
	c, ps := ParseCanary(ann("canary", "true", "rewrite-target", "/x", "proxy-body-size", "junk", "load-balance", "ewma", "enable-cors", "true"))
	assert.Empty(t, ps)
	assert.Empty(t, c.RewriteTarget)
	assert.Equal(t, "ewma", c.LoadBalance)
	assert.True(t, IsCanary(ann("canary", "TRUE")))
	assert.False(t, IsCanary(ann("canary", "yes")))
}

func TestLocationAnnotations(t *testing.T) {
	c, ps := Parse(ann())
	assert.Empty(t, ps)
	assert.True(t, c.SSLRedirect)
	assert.Equal(t, Timeouts{5 * time.Second, 60 * time.Second, 60 * time.Second}, c.Timeouts)
	assert.Equal(t, int64(1<<20), c.ProxyBodySize)
	assert.Equal(t, NextUpstream{On: []string{"error", "timeout"}, Tries: 3}, c.NextUpstream)
	assert.Equal(t, ProtocolHTTP, c.BackendProtocol)

	c, ps = Parse(ann("proxy-connect-timeout", "60s", "proxy-read-timeout", "120", "proxy-body-size", "8m",
		"proxy-next-upstream", "error http_502 non_idempotent", "proxy-next-upstream-tries", "2", "use-regex", "true",
		"rewrite-target", "/$1", "ssl-redirect", "false", "upstream-vhost", "internal.svc"))
	assert.Equal(t, []string{ReasonInvalidValue}, reasons(ps), "60s is not whole seconds")
	assert.Equal(t, 5*time.Second, c.Timeouts.Connect)
	assert.Equal(t, 120*time.Second, c.Timeouts.Read)
	assert.Equal(t, int64(8<<20), c.ProxyBodySize)
	assert.Equal(t, []string{"error", "http_502", "non_idempotent"}, c.NextUpstream.On)
	assert.Equal(t, 2, c.NextUpstream.Tries)
	assert.True(t, c.UseRegex)
	assert.Equal(t, "/$1", c.RewriteTarget)
	assert.False(t, c.SSLRedirect)
	assert.Equal(t, "internal.svc", c.UpstreamVhost)

	c, _ = Parse(ann("proxy-body-size", "0", "proxy-next-upstream", "off"))
	assert.Zero(t, c.ProxyBodySize)
	assert.Empty(t, c.NextUpstream.On)

	c, ps = Parse(ann("rewrite-target", "/a?b=c", "proxy-body-size", "1t"))
	assert.Empty(t, c.RewriteTarget)
	assert.Equal(t, int64(1<<20), c.ProxyBodySize)
	assert.Equal(t, []string{ReasonInvalidValue, ReasonInvalidRewriteTarget}, reasons(ps))
}

func TestBackendProtocol(t *testing.T) {
	for in, want := range map[string]Protocol{"grpc": ProtocolGRPC, "HTTPS": ProtocolHTTPS, "h2c": ProtocolH2C, "GRPCS": ProtocolGRPCS, "AUTO_HTTP": ProtocolHTTP} {
		c, ps := Parse(ann("backend-protocol", in))
		assert.Equal(t, want, c.BackendProtocol, in)
		assert.Empty(t, ps)
	}
	c, ps := Parse(ann("backend-protocol", "FCGI"))
	assert.Equal(t, ProtocolHTTP, c.BackendProtocol)
	assert.Equal(t, []string{ReasonUnsupportedAnnotation}, reasons(ps))
	_, ps = Parse(ann("backend-protocol", "SPDY"))
	assert.Equal(t, []string{ReasonInvalidValue}, reasons(ps))
}

func TestBalanceAndAffinity(t *testing.T) {
	c, ps := Parse(ann("load-balance", "round_robin", "affinity", "cookie", "session-cookie-name", "route",
		"session-cookie-max-age", "3600", "session-cookie-samesite", "lax", "session-cookie-secure", "true"))
	assert.Empty(t, ps)
	assert.Equal(t, "round_robin", c.LoadBalance)
	assert.Equal(t, &Affinity{CookieName: "route", Path: "/", Mode: "balanced", MaxAge: time.Hour, Secure: true, SameSite: "Lax"}, c.Affinity)

	_, ps = Parse(ann("load-balance", "fastest"))
	assert.Equal(t, []string{ReasonInvalidValue}, reasons(ps))
	for _, v := range []string{"sed", "nq"} {
		c, ps = Parse(ann("load-balance", v))
		assert.Empty(t, ps)
		assert.Equal(t, v, c.LoadBalance)
	}
}

func TestHashKey(t *testing.T) {
	parts, err := ParseHashKey("$http_x_user_id-${cookie_sid}:$arg_q$request_uri")
	require.NoError(t, err)
	assert.Equal(t, []KeyPart{{KeyHeader, "x-user-id"}, {KeyLiteral, "-"}, {KeyCookie, "sid"}, {KeyLiteral, ":"}, {KeyArg, "q"}, {KeyRequestURI, ""}}, parts)
	_, err = ParseHashKey("$nope")
	assert.ErrorContains(t, err, "unknown variable $nope")
	_, err = ParseHashKey("${uri")
	assert.Error(t, err)

	c, ps := Parse(ann("upstream-hash-by", "$bogus"))
	assert.True(t, c.DropIngress)
	require.Len(t, ps, 1)
	assert.Equal(t, Error, ps[0].Severity)
}

func TestSourceRanges(t *testing.T) {
	c, ps := Parse(ann("whitelist-source-range", "10.0.0.0/8, 192.168.1.1", "denylist-source-range", "10.1.0.0/16,fd00::/8"))
	assert.Empty(t, ps)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.1/32")}, c.AllowSourceRange)
	assert.Len(t, c.DenySourceRange, 2)
	assert.False(t, c.DenyAll)

	c, _ = Parse(ann("allowlist-source-range", "10.0.0.0/8", "whitelist-source-range", "1.2.3.4"))
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, c.AllowSourceRange, "the alias is read only when the main key is absent")

	c, ps = Parse(ann("allowlist-source-range", "10.0.0.0/8, not-an-ip"))
	assert.True(t, c.DenyAll, "fail closed")
	assert.Equal(t, []string{ReasonInvalidSourceRange}, reasons(ps))
}

func TestRedirects(t *testing.T) {
	c, ps := Parse(ann("permanent-redirect", "https://new.example.com/", "temporal-redirect", "https://tmp.example.com", "temporal-redirect-code", "307"))
	assert.Empty(t, ps)
	assert.Equal(t, &Redirect{URL: "https://tmp.example.com", Status: 307}, c.Redirect)
	c, _ = Parse(ann("permanent-redirect", "https://new.example.com/", "permanent-redirect-code", "200"))
	assert.Equal(t, 301, c.Redirect.Status)
	c, _ = Parse(ann("permanent-redirect", "not a url"))
	assert.True(t, c.DropIngress)
}

func TestUnknownUnsupportedAndSnippets(t *testing.T) {
	_, ps := Parse(ann("configuration-snippet", "more_set_headers x", "from-to-www-redirect", "true", "no-such-thing", "1", "lua-resty-waf-foo", "x"))
	assert.Equal(t, []string{ReasonSnippetRejected, ReasonSnippetRejected, ReasonUnknownAnnotation, ReasonUnsupportedAnnotation}, reasons(ps))
	_, ps = Parse(map[string]string{"kubernetes.io/ingress.class": "weir", "other/x": "y"})
	assert.Empty(t, ps, "other prefixes are not ours")
}

func TestWeirHealthCheck(t *testing.T) {
	c, ps := Parse(map[string]string{"weir.dev/health-check-path": "/healthz", "weir.dev/health-check-interval": "2"})
	assert.Empty(t, ps)
	assert.Equal(t, HealthCheck{Path: "/healthz", Interval: 2 * time.Second, Timeout: time.Second}, c.HealthCheck)
	c, ps = Parse(map[string]string{"weir.dev/health-check-path": "healthz", "weir.dev/nope": "x"})
	assert.Empty(t, c.HealthCheck.Path)
	assert.Equal(t, []string{ReasonInvalidValue, ReasonUnknownAnnotation}, reasons(ps))
}

// An access restriction Weir cannot enforce, or whose value is invalid,
// closes the Ingress: its paths answer 503 instead of reaching the backend
// unprotected.
func TestUnenforceableAccessFailsClosed(t *testing.T) {
	for _, a := range [][]string{
		{"auth-url", "http://auth", "auth-proxy-set-headers", "a/b/c"},
		{"auth-url", "http://auth", "auth-proxy-set-headers", "Not_A_Name"},
		{"auth-type", "basic"},
		{"auth-type", "basic", "auth-secret", "Not_A_Name"},
		{"auth-type", "bearer", "auth-secret", "users"},
		{"auth-type", "basic", "auth-secret", "users", "auth-secret-type", "ldap"},
		{"auth-url", "ftp://auth/x"},
		{"auth-url", "http://auth/$unknown"},
		{"auth-url", "http://auth/\r\nX: y"},
		{"auth-url", "http://auth", "auth-method", "GET X"},
		{"auth-url", "http://auth", "auth-response-headers", "X-User, X User"},
		{"auth-url", "http://auth", "auth-request-redirect", "/a\nb"},
	} {
		c, ps := Parse(ann(a...))
		assert.True(t, c.DenyAll, "%q must close the Ingress", a)
		assert.Contains(t, reasons(ps), ReasonInvalidValue, a)
		assert.Nil(t, c.ExternalAuth)
		assert.Nil(t, c.BasicAuth)
	}
	c, ps := Parse(ann("auth-realm", "Protected"))
	assert.False(t, c.DenyAll, "a realm alone restricts nothing")
	assert.Empty(t, ps)
	c, _ = ParseCanary(ann("canary", "true", "auth-url", "http://auth"))
	assert.False(t, c.DenyAll, "a canary Ingress's other annotations are ignored; the main Ingress owns the route")
	assert.Nil(t, c.ExternalAuth)
}
