package annotations

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCORSDefaults(t *testing.T) {
	c, ps := Parse(ann("enable-cors", "true"))
	assert.Empty(t, ps)
	assert.Equal(t, &CORS{AllowOrigins: []string{"*"}, AllowMethods: DefaultCORSMethods, AllowHeaders: DefaultCORSHeaders,
		AllowCredentials: true, MaxAge: 1728000}, c.CORS)
	c, ps = Parse(ann("cors-allow-origin", "https://a.example"))
	assert.Nil(t, c.CORS, "cors-* without enable-cors does nothing")
	assert.Empty(t, ps)
}

func TestCORSValues(t *testing.T) {
	c, ps := Parse(ann("enable-cors", "true", "cors-allow-origin", "https://App.example.com:8443, http://*.example.org,not an origin, null",
		"cors-allow-methods", "GET, POST", "cors-allow-headers", "X-A, X-B", "cors-expose-headers", "*, X-Total",
		"cors-allow-credentials", "false", "cors-max-age", "600"))
	assert.Equal(t, []string{ReasonInvalidValue}, reasons(ps))
	assert.Equal(t, &CORS{AllowOrigins: []string{"https://app.example.com:8443", "http://*.example.org", "null"},
		AllowMethods: "GET, POST", AllowHeaders: "X-A, X-B", ExposeHeaders: "*, X-Total", MaxAge: 600}, c.CORS)

	c, _ = Parse(ann("enable-cors", "true", "cors-allow-origin", "https://a.example, *"))
	assert.Equal(t, []string{"*"}, c.CORS.AllowOrigins)

	c, ps = Parse(ann("enable-cors", "true", "cors-allow-origin", "https://a.example\r\nX: y", "cors-allow-methods", "GET\r\nX: y",
		"cors-allow-headers", "X-A\nX-B: c", "cors-expose-headers", "X\x00", "cors-max-age", "99999999999999999999"))
	assert.Len(t, ps, 6, "%v", ps)
	assert.Empty(t, c.CORS.AllowOrigins, "no valid origin: none matches (not widened to *)")
	assert.Equal(t, DefaultCORSMethods, c.CORS.AllowMethods)
	assert.Equal(t, DefaultCORSHeaders, c.CORS.AllowHeaders)
	assert.Empty(t, c.CORS.ExposeHeaders)
	assert.Equal(t, DefaultCORSMaxAge, c.CORS.MaxAge)
}

func TestValidOrigin(t *testing.T) {
	for _, o := range []string{"https://a.example", "http://*.a.example:80", "https://localhost:65535", "app://x"} {
		assert.True(t, ValidOrigin(o), o)
	}
	for _, o := range []string{"https://", "https://a.example:0", "https://a.example:65536", "https://*.*.a", "https://a/b",
		"a.example", "https://a..b", "https://a.example:", "HTTPS://a"} {
		assert.False(t, ValidOrigin(o), o)
	}
}

func TestBasicAuth(t *testing.T) {
	c, ps := Parse(ann("auth-type", "basic", "auth-secret", "users", "auth-realm", "Staff only"))
	assert.Empty(t, ps)
	assert.Equal(t, &BasicAuth{Realm: "Staff only", SecretName: "users", SecretType: "auth-file"}, c.BasicAuth)
	assert.False(t, c.DenyAll)

	c, ps = Parse(ann("auth-type", "digest", "auth-secret", "users", "auth-realm", "Staff"))
	assert.Empty(t, ps)
	assert.Equal(t, &BasicAuth{Digest: true, Realm: "Staff", SecretName: "users", SecretType: "auth-file"}, c.BasicAuth)

	c, _ = Parse(ann("auth-type", "basic", "auth-secret", "team/users", "auth-secret-type", "auth-map"))
	assert.Equal(t, &BasicAuth{SecretNamespace: "team", SecretName: "users", SecretType: "auth-map"}, c.BasicAuth)

	c, ps = Parse(ann("auth-type", "basic", "auth-secret", "users", "auth-realm", "a\"b"))
	assert.Equal(t, []string{ReasonInvalidValue}, reasons(ps))
	assert.Empty(t, c.BasicAuth.Realm, "an invalid realm falls back to the default")
	assert.False(t, c.DenyAll)
}

func TestExternalAuth(t *testing.T) {
	c, ps := Parse(ann("auth-url", "https://$host/oauth2/auth", "auth-signin", "https://$host/oauth2/start?rd=$escaped_request_uri",
		"auth-response-headers", "X-Auth-Request-User, X-Auth-Request-Email", "auth-method", "post",
		"auth-request-redirect", "/after", "auth-always-set-cookie", "true", "auth-signin-redirect-param", "return_to"))
	assert.Empty(t, ps)
	assert.Equal(t, &ExternalAuth{URL: "https://$host/oauth2/auth", Method: "POST",
		SignIn: "https://$host/oauth2/start?rd=$escaped_request_uri", SignInRedirectParam: "return_to",
		ResponseHeaders: []string{"X-Auth-Request-User", "X-Auth-Request-Email"}, RequestRedirect: "/after", AlwaysSetCookie: true}, c.ExternalAuth)

	c, ps = Parse(ann("auth-url", "http://auth.svc/check", "auth-signin", "javascript:alert(1)", "auth-signin-redirect-param", "r d"))
	assert.Equal(t, []string{ReasonInvalidValue, ReasonInvalidValue}, reasons(ps))
	assert.Empty(t, c.ExternalAuth.SignIn, "an invalid sign-in URL is ignored: the 401 is returned")
	assert.Equal(t, "rd", c.ExternalAuth.SignInRedirectParam)
	assert.False(t, c.DenyAll)
}

func TestRateLimit(t *testing.T) {
	c, ps := Parse(ann("limit-rps", "10", "limit-connections", "3", "limit-whitelist", "10.0.0.0/8"))
	assert.Empty(t, ps)
	assert.Equal(t, &RateLimit{RPS: 10, Connections: 3, BurstMultiplier: 5, Allowlist: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, c.RateLimit)

	c, _ = Parse(ann("limit-rpm", "60", "limit-allowlist", "1.2.3.4", "limit-whitelist", "10.0.0.0/8", "limit-burst-multiplier", "2"))
	assert.Equal(t, &RateLimit{RPM: 60, BurstMultiplier: 2, Allowlist: []netip.Prefix{netip.MustParsePrefix("1.2.3.4/32")}}, c.RateLimit,
		"the alias is read only when the main key is absent")

	c, ps = Parse(ann("limit-burst-multiplier", "7"))
	assert.Nil(t, c.RateLimit, "no limit set: nothing to enforce")
	assert.Empty(t, ps)

	for _, a := range [][]string{{"limit-rps", "ten"}, {"limit-rpm", "-1"}, {"limit-connections", "99999999999999999999"},
		{"limit-rps", "5", "limit-allowlist", "10.0.0.0/8, nope"}} {
		c, ps := Parse(ann(a...))
		assert.True(t, c.DropIngress, "%v drops the Ingress, as ingress-nginx does", a)
		require.NotEmpty(t, ps)
		assert.Equal(t, Error, ps[0].Severity)
	}
	c, ps = Parse(ann("limit-rps", "5", "limit-burst-multiplier", "0"))
	assert.Equal(t, 5, c.RateLimit.BurstMultiplier)
	assert.Equal(t, []string{ReasonInvalidValue}, reasons(ps))
}

func TestAuthCache(t *testing.T) {
	c, ps := Parse(ann("auth-url", "http://auth/", "auth-cache-key", "$remote_user$http_authorization", "auth-cache-duration", "200 202 10m, 401 30s"))
	assert.Empty(t, ps)
	assert.Equal(t, []KeyPart{{Kind: KeyRemoteUser}, {Kind: KeyHeader, Name: "authorization"}}, c.ExternalAuth.CacheKey)
	assert.Equal(t, []CacheRule{{Statuses: []int{200, 202}, TTL: 10 * time.Minute}, {Statuses: []int{401}, TTL: 30 * time.Second}}, c.ExternalAuth.CacheRules)

	c, _ = Parse(ann("auth-url", "http://auth/", "auth-cache-key", "${cookie__oauth2_proxy}"))
	assert.Equal(t, []CacheRule{{Statuses: []int{200, 202, 401}, TTL: 5 * time.Minute}}, c.ExternalAuth.CacheRules, "the default duration")

	c, ps = Parse(ann("auth-url", "http://auth/", "auth-cache-duration", "200 5m"))
	assert.Empty(t, ps)
	assert.Nil(t, c.ExternalAuth.CacheRules, "no key: no caching")

	c, ps = Parse(ann("auth-url", "http://auth/", "auth-cache-key", "$upstream_addr"))
	assert.Equal(t, []string{ReasonInvalidValue}, reasons(ps))
	assert.Nil(t, c.ExternalAuth.CacheKey, "an invalid key turns caching off")

	for _, d := range []string{"200 5x", "abc 5m", "200 9999w", "99 5m", ","} {
		c, ps = Parse(ann("auth-url", "http://auth/", "auth-cache-key", "$http_authorization", "auth-cache-duration", d))
		assert.True(t, c.DenyAll, d)
		assert.Equal(t, []string{ReasonInvalidValue}, reasons(ps), d)
	}
	rules, err := ParseCacheDurations("any 1h30m, 5m")
	require.NoError(t, err)
	assert.Equal(t, []CacheRule{{TTL: 90 * time.Minute}, {Statuses: []int{200, 301, 302}, TTL: 5 * time.Minute}}, rules)
}
