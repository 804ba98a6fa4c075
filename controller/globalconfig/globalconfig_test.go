package globalconfig

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every ingress-nginx default Weir documents is itself a valid value.
func TestDefaultsAreValid(t *testing.T) {
	for _, k := range Keys() {
		if k.Default != "" && k.Live() {
			assert.NoError(t, k.Check(k.Default), k.Name)
		}
	}
}

// Each live key: a valid value, and each invalid form it refuses.
func TestKeyValues(t *testing.T) {
	cases := []struct {
		key     string
		valid   []string
		invalid []string
	}{
		{"proxy-body-size", []string{"8m", "0", "512k"}, []string{"1t", "big", "-1"}},
		{"proxy-connect-timeout", []string{"10"}, []string{"10s", "-1", "x"}},
		{"proxy-read-timeout", []string{"120"}, []string{"1m"}},
		{"proxy-send-timeout", []string{"120"}, []string{""}},
		{"proxy-next-upstream", []string{"error timeout http_502", "off"}, []string{"bogus"}},
		{"proxy-next-upstream-tries", []string{"5"}, []string{"many"}},
		{"proxy-next-upstream-timeout", []string{"10"}, []string{"ten"}},
		{"load-balance", []string{"round_robin", "ewma", "least_conn"}, []string{"random"}},
		{"ssl-redirect", []string{"false", "true"}, []string{"maybe"}},
		{"force-ssl-redirect", []string{"true"}, []string{"2"}},
		{"hsts", []string{"false", "true"}, []string{"y"}},
		{"hsts-max-age", []string{"600", "0"}, []string{"-1", "1y"}},
		{"hsts-include-subdomains", []string{"false"}, []string{"nope"}},
		{"hsts-preload", []string{"true"}, []string{"t r u e"}},
		{"use-forwarded-headers", []string{"true"}, []string{"yes please"}},
		{"enable-real-ip", []string{"true"}, []string{"x"}},
		{"compute-full-forwarded-for", []string{"true"}, []string{"x"}},
		{"forwarded-for-header", []string{"CF-Connecting-IP", "X-Real-IP"}, []string{"", "bad header", "a/b"}},
		{"proxy-real-ip-cidr", []string{"10.0.0.0/8, 192.168.1.1", "::/0"}, []string{"10.0.0.0/33", "host"}},
		{"block-cidrs", []string{"203.0.113.0/24,2001:db8::1"}, []string{"not-an-ip"}},
		{"block-user-agents", []string{"curl/8.0,~*bot", "~^Go-http"}, []string{"~(unclosed", "~*(?<=x)"}},
		{"block-referers", []string{"~*spam\\.example", "http://bad.example/"}, []string{"~[z-a]"}},
		{"use-proxy-protocol", []string{"true", "false"}, []string{"v2"}},
		{"proxy-protocol-header-timeout", []string{"5s", "500ms", "10"}, []string{"5x", "2d", "-1s"}},
		{"keep-alive", []string{"0", "75", "2m"}, []string{"forever"}},
		{"client-header-timeout", []string{"10s"}, []string{"10q"}},
		{"client-body-timeout", []string{"30"}, []string{"-5"}},
		{"large-client-header-buffers", []string{"4 8k", "2 16k", "1 1m"}, []string{"4", "4 8g", "0 8k", "64 1m"}},
		{"use-http2", []string{"false"}, []string{"h2"}},
		{"http2-max-concurrent-streams", []string{"250"}, []string{"0"}},
		{"ssl-protocols", []string{"TLSv1.3", "TLSv1.2 TLSv1.3", "TLSv1.2"}, []string{"TLSv1.1 TLSv1.2", "SSLv3", ""}},
		{"ssl-ciphers", []string{"ECDHE-RSA-AES128-GCM-SHA256", "HIGH:!aNULL:!MD5"}, []string{"NO-SUCH-CIPHER"}},
		{"ssl-session-tickets", []string{"true"}, []string{"sometimes"}},
		{"upstream-keepalive-connections", []string{"1", "64"}, []string{"0", "-1"}},
		{"upstream-keepalive-timeout", []string{"30"}, []string{"x"}},
		{"upstream-keepalive-requests", []string{"1", "10000"}, []string{"0", "-5", "many"}},
		{"use-gzip", []string{"true"}, []string{"gzip"}},
		{"gzip-level", []string{"9"}, []string{"10", "0"}},
		{"gzip-min-length", []string{"1000"}, []string{"-1"}},
		{"gzip-types", []string{"text/html application/json", "*"}, []string{"text"}},
		{"enable-brotli", []string{"true"}, []string{"br"}},
		{"brotli-level", []string{"11", "0"}, []string{"12"}},
		{"brotli-min-length", []string{"20"}, []string{"x"}},
		{"brotli-types", []string{"text/*"}, []string{"/"}},
		{"custom-http-errors", []string{"404,503", " 500 , 502 "}, []string{"200", "404,abc", "600"}},
		{"allow-snippet-annotations", []string{"false", "False"}, []string{"true"}},
		{"add-headers", []string{"ingress-nginx/custom-headers", ""}, []string{"custom-headers", "a/b/c", "Ns/x", "ns/"}},
		{"proxy-set-headers", []string{"weir-system/upstream-headers"}, []string{"x", "/x"}},
		{"global-allowed-response-headers", []string{"X-Frame-Options, Content-Security-Policy", ""}, []string{"X Frame", "a,b\x00c"}},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		k, ok := Lookup(tc.key)
		require.True(t, ok, tc.key)
		seen[tc.key] = true
		for _, v := range tc.valid {
			assert.NoError(t, k.Check(v), "%s=%q", tc.key, v)
		}
		for _, v := range tc.invalid {
			assert.Error(t, k.Check(v), "%s=%q", tc.key, v)
		}
	}
	for _, k := range Keys() {
		if k.Live() {
			assert.True(t, seen[k.Name], "key %s has no test case", k.Name)
		}
	}
}

func TestDefaultsConfig(t *testing.T) {
	c, ps := Parse(nil)
	assert.Empty(t, ps)
	assert.Equal(t, "max-age=31536000; includeSubDomains", c.HSTS)
	assert.Empty(t, c.AnnotationDefaults)
	assert.Nil(t, c.Forwarded.Trusted, "forwarded headers are believed only when asked")
	assert.Equal(t, "X-Forwarded-For", c.Forwarded.Header)
	assert.False(t, c.ProxyProtocol)
	assert.Equal(t, 5*time.Second, c.ProxyProtocolTimeout)
	assert.True(t, c.Block.Empty())
	start := Start{KeepAlive: time.Minute}
	c.ApplyStart(&start)
	assert.Equal(t, Start{KeepAlive: time.Minute}, start, "an absent key leaves the flag's value")
}

func TestParseTyped(t *testing.T) {
	c, ps := Parse(map[string]string{
		"proxy-body-size": "8m", "hsts-max-age": "600", "hsts-preload": "true", "hsts-include-subdomains": "false",
		"use-forwarded-headers": "true", "proxy-real-ip-cidr": "10.0.0.0/8", "forwarded-for-header": "cf-connecting-ip",
		"block-user-agents": "~*bot,curl/8.0", "keep-alive": "30", "large-client-header-buffers": "4 16k",
		"ssl-protocols": "TLSv1.3", "use-gzip": "true", "gzip-types": "text/html", "custom-http-errors": "404,503",
		"worker-processes": "4", "log-format-upstream": "$remote_addr",
	})
	assert.Empty(t, ps)
	assert.Equal(t, map[string]string{"proxy-body-size": "8m"}, c.AnnotationDefaults)
	assert.Equal(t, "max-age=600; preload", c.HSTS)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, c.Forwarded.Trusted)
	assert.Equal(t, "Cf-Connecting-Ip", c.Forwarded.Header)
	require.Len(t, c.Block.UserAgents, 2)
	assert.True(t, c.Block.UserAgents[0].Match("GoogleBot/2.1"))
	assert.False(t, c.Block.UserAgents[1].Match("curl/8.1"))
	assert.True(t, c.Compression.Gzip)
	assert.Equal(t, 1, c.Compression.GzipLevel, "ingress-nginx's default for the keys not set")
	assert.Contains(t, c.Compression.GzipTypes, "text/html")
	assert.Equal(t, []int{404, 503}, c.Errors.CustomHTTPErrors)
	var s Start
	c.ApplyStart(&s)
	assert.Equal(t, 30*time.Second, s.KeepAlive)
	assert.Equal(t, 64<<10, s.MaxHeaderBytes)
	assert.Equal(t, uint16(0x0304), s.MinTLSVersion)

	c, _ = Parse(map[string]string{"hsts": "false", "enable-real-ip": "true"})
	assert.Empty(t, c.HSTS)
	assert.Equal(t, []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}, c.Forwarded.Trusted, "ingress-nginx's proxy-real-ip-cidr default")
}

// An invalid value keeps the key's last valid value; unknown, refused and
// not implemented keys are problems of their own.
func TestTrackerKeepsLastGood(t *testing.T) {
	var tr Tracker
	c, ps := tr.Apply(map[string]string{"proxy-body-size": "8m", "keep-alive": "30"})
	require.Empty(t, ps)
	first := c

	c, ps = tr.Apply(map[string]string{"proxy-body-size": "huge", "keep-alive": "30", "proxy-bodysize": "1m",
		"allow-snippet-annotations": "true", "server-snippet": "return 200;", "global-auth-url": "http://auth"})
	assert.Equal(t, "8m", c.AnnotationDefaults["proxy-body-size"], "the last valid value stays")
	reasons := map[string]string{}
	for _, p := range ps {
		reasons[p.Key] = p.Reason
	}
	assert.Equal(t, map[string]string{"proxy-body-size": ReasonInvalidValue, "proxy-bodysize": ReasonUnknownKey,
		"allow-snippet-annotations": ReasonInvalidValue, "server-snippet": ReasonSnippetRejected,
		"global-auth-url": ReasonNotImplemented}, reasons)
	for _, p := range ps {
		switch p.Key {
		case "proxy-bodysize":
			assert.Contains(t, p.Message, `did you mean "proxy-body-size"`)
		case "proxy-body-size":
			assert.Contains(t, p.Message, `keeping the last valid value "8m"`)
		}
	}
	assert.Empty(t, c.StartChanged(first))

	c, ps = tr.Apply(map[string]string{"keep-alive": "10", "upstream-keepalive-timeout": "30"})
	assert.Empty(t, ps)
	assert.Empty(t, c.AnnotationDefaults, "a removed key returns to the default")
	assert.Equal(t, []string{"upstream-keepalive-timeout"}, c.StartChanged(first),
		"keep-alive applies to new connections: no restart needed")
	var s Start
	c.ApplyStart(&s)
	assert.Equal(t, 10*time.Second, s.KeepAlive, "the listeners' keys are applied with the others")

	_, ps = tr.Apply(map[string]string{"proxy-body-size": "huge"})
	require.Len(t, ps, 1)
	assert.Contains(t, ps[0].Message, "using the default", "no valid value was left to keep")
}
