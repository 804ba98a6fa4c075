package annotations

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseHeadersKeepsOnlySafeHeaders(t *testing.T) {
	data := map[string]string{
		"x-team":            " blue ",
		"X-Empty":           "",
		"X-Tab":             "a\tb",
		"X Bad":             "v",
		"X-Newline":         "a\r\nSet-Cookie: x",
		"X-Nul":             "a\x00b",
		"Content-Length":    "0",
		"transfer-encoding": "chunked",
		"Host":              "other",
		"X-Price":           "5$",
		"X-Var":             "$remote_addr",
		"X-Uri":             "$request_uri",
	}
	fields, errs := ParseHeaders(data, HeadersLiteral)
	assert.Equal(t, []HeaderField{{"X-Empty", ""}, {"X-Price", "5$"}, {"X-Tab", "a\tb"}, {"X-Team", "blue"}}, fields)
	require.Len(t, errs, 8)
	joined := ""
	for _, e := range errs {
		joined += e.Error() + "\n"
	}
	for _, want := range []string{`key "X Bad" is not a header name`, "Content-Length frames", "transfer-encoding frames", "Host frames",
		"X-Newline: the value holds a control", "X-Nul: the value", "X-Var: the value holds an nginx variable", "X-Uri: the value holds an nginx variable"} {
		assert.Contains(t, joined, want)
	}

	fields, errs = ParseHeaders(map[string]string{"X-Uri": "$scheme://$host$request_uri", "X-Addr": "$remote_addr"}, HeadersAuth)
	assert.Equal(t, []HeaderField{{"X-Uri", "$scheme://$host$request_uri"}}, fields, "auth headers may hold auth-url's variables")
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "X-Addr")
}

func TestHeadersConfigMapAnnotations(t *testing.T) {
	c, ps := Parse(ann("custom-headers", "resp", "auth-url", "http://auth", "auth-proxy-set-headers", "default/auth-headers"))
	assert.Empty(t, ps)
	assert.False(t, c.DenyAll)
	assert.Equal(t, &ConfigMapRef{Name: "resp"}, c.CustomHeaders)
	assert.Equal(t, &ConfigMapRef{Namespace: "default", Name: "auth-headers"}, c.ExternalAuth.ProxySetHeaders)

	c, ps = Parse(ann("custom-headers", "a/b/c"))
	assert.True(t, c.DenyAll, "ingress-nginx denies the location")
	assert.Equal(t, []string{ReasonInvalidValue}, reasons(ps))
	assert.Nil(t, c.CustomHeaders)

	c, ps = Parse(ann("auth-proxy-set-headers", "h"))
	assert.False(t, c.DenyAll, "without auth-url the headers have nowhere to go")
	assert.Empty(t, ps)
	assert.Nil(t, c.ExternalAuth)
}

// FuzzParseHeaders checks that whatever a ConfigMap holds, every header
// kept is safe to write: a token name that frames nothing and a value
// without control characters.
func FuzzParseHeaders(f *testing.F) {
	f.Add("X-A=1\nX-B=$host\nContent-Length=0\nX C=d", true)
	f.Add("X-A=a\r\nb\nX-$=\x00", false)
	f.Fuzz(func(t *testing.T, in string, auth bool) {
		data := map[string]string{}
		for _, line := range strings.Split(in, "\n") {
			k, v, _ := strings.Cut(line, "=")
			data[k] = v
		}
		use := HeadersLiteral
		if auth {
			use = HeadersAuth
		}
		fields, errs := ParseHeaders(data, use)
		if len(fields)+len(errs) != len(data) {
			t.Fatalf("%d kept + %d refused != %d entries", len(fields), len(errs), len(data))
		}
		for _, h := range fields {
			if !validHeaderName(h.Name) || RefusedHeader(h.Name) || !validHeaderValue(h.Value) || strings.ContainsAny(h.Value, "\r\n\x00") {
				t.Fatalf("unsafe header kept: %q", h)
			}
		}
	})
}
