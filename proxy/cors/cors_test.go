package cors

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/annotations"
)

func request(method, origin string) *http.Request {
	r := httptest.NewRequest(method, "http://app.example/x", nil)
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	return r
}

func TestListedOrigins(t *testing.T) {
	p := New(Config{AllowOrigins: []string{"https://app.example.com", "https://*.example.org:8443", "null"},
		AllowMethods: "GET, POST", AllowHeaders: "X-A", ExposeHeaders: "X-Total", AllowCredentials: true, MaxAge: 600})
	for origin, want := range map[string]bool{
		"https://app.example.com":      true,
		"HTTPS://APP.example.com":      true,
		"https://a.example.org:8443":   true,
		"https://a-b.example.org:8443": true,
		"https://a.b.example.org:8443": false, // one label only
		"https://.example.org:8443":    false,
		"https://a.example.org":        false, // port differs
		"http://app.example.com":       false,
		"https://app.example.com.evil": false,
		"https://evilapp.example.com":  false,
		"null":                         true,
		"https://app.example.com:443":  false,
		"https://a.example.org:84431":  false,
		"https://a_b.example.org:8443": false,
		"https://xexample.org:8443":    false,
		"":                             false,
	} {
		assert.Equal(t, want, p.Allows(origin), origin)
	}

	h := http.Header{}
	assert.True(t, p.Apply(h, request(http.MethodOptions, "https://app.example.com")))
	assert.Equal(t, http.Header{
		"Vary":                             {"Origin"},
		"Access-Control-Allow-Origin":      {"https://app.example.com"},
		"Access-Control-Allow-Credentials": {"true"},
		"Access-Control-Allow-Methods":     {"GET, POST"},
		"Access-Control-Allow-Headers":     {"X-A"},
		"Access-Control-Expose-Headers":    {"X-Total"},
		"Access-Control-Max-Age":           {"600"},
		"Content-Type":                     {"text/plain charset=UTF-8"}, // ingress-nginx's preflight answer
	}, h)

	h = http.Header{}
	assert.False(t, p.Apply(h, request(http.MethodGet, "https://a.example.org:8443")), "a simple request is proxied")
	assert.Equal(t, []string{"https://a.example.org:8443"}, h["Access-Control-Allow-Origin"])

	h = http.Header{}
	assert.False(t, p.Apply(h, request(http.MethodOptions, "https://evil.example")), "a preflight from another origin goes to the backend")
	assert.Equal(t, http.Header{"Vary": {"Origin"}}, h, "no CORS headers for an origin not allowed")
}

func TestAnyOrigin(t *testing.T) {
	p := New(Config{AllowOrigins: []string{"*"}, AllowMethods: "GET", AllowHeaders: "X", MaxAge: 1})
	h := http.Header{}
	assert.True(t, p.Apply(h, request(http.MethodOptions, "")), "with * every OPTIONS is answered, as in ingress-nginx")
	assert.Equal(t, []string{"*"}, h["Access-Control-Allow-Origin"])
	assert.Nil(t, h["Access-Control-Allow-Credentials"])
	assert.Nil(t, h["Vary"])
	assert.Nil(t, h["Access-Control-Expose-Headers"])
}

func TestNoOrigins(t *testing.T) {
	p := New(Config{AllowOrigins: []string{}})
	assert.False(t, p.Allows("https://a.example"))
	assert.False(t, p.Apply(http.Header{}, request(http.MethodOptions, "https://a.example")))
}

func TestApplyAllocatesNothing(t *testing.T) {
	p := New(Config{AllowOrigins: []string{"https://a.example", "https://*.b.example"}, AllowMethods: "GET", AllowHeaders: "X"})
	r := request(http.MethodGet, "https://x.b.example")
	h := http.Header{}
	p.Apply(h, r)
	allocs := testing.AllocsPerRun(100, func() { p.Apply(h, r) })
	assert.Zero(t, allocs)
}

// FuzzOrigins checks the annotation's origin parser against the matcher:
// every origin the parser accepts is printable, and the policy built from it
// allows the origin itself (a wildcard with any one label in its place)
// and nothing with a control byte.
func FuzzOrigins(f *testing.F) {
	for _, s := range []string{"https://a.example", "https://*.b.example:8443", "null", "https://.b.example", "*", "http://a:0"} {
		f.Add(s, "https://x.b.example:8443")
	}
	f.Fuzz(func(t *testing.T, entry, origin string) {
		if !annotations.ValidOrigin(entry) {
			return
		}
		for _, c := range []byte(entry) {
			if c <= ' ' || c >= 0x7f {
				t.Fatalf("accepted %q", entry)
			}
		}
		p := New(Config{AllowOrigins: []string{entry}})
		if !p.Allows(strings.Replace(entry, "*", "label", 1)) {
			t.Fatalf("%q does not allow itself", entry)
		}
		if strings.ContainsAny(origin, "\r\n\x00") && p.Allows(origin) {
			t.Fatalf("%q allows %q", entry, origin)
		}
	})
}

func TestVaryKeepsTheBackendsValues(t *testing.T) {
	p := New(Config{AllowOrigins: []string{"https://a.example"}})
	r := request(http.MethodGet, "https://a.example")
	h := http.Header{"Vary": {"Accept-Encoding"}}
	p.Apply(h, r)
	assert.Equal(t, []string{"Accept-Encoding", "Origin"}, h["Vary"])
	p.Apply(h, r)
	assert.Equal(t, []string{"Accept-Encoding", "Origin"}, h["Vary"], "added once")
}

// TestGatewayOrigins: the Gateway API's wildcard spans any number of
// labels before the suffix, never none; other origins match exactly.
func TestGatewayOrigins(t *testing.T) {
	c := NewGateway(GatewayConfig{AllowOrigins: []string{"https://www.foo.com", "https://*.bar.com"}})
	for origin, ok := range map[string]bool{
		"https://www.foo.com": true, "https://a.bar.com": true, "https://a.b.bar.com": true,
		"https://bar.com": false, "http://a.bar.com": false, "https://www.foo.com.evil": false, "https://abar.com": false,
	} {
		assert.Equal(t, ok, c.Allows(origin), origin)
	}
	assert.True(t, NewGateway(GatewayConfig{AllowOrigins: []string{"*"}}).Allows("https://x.test:8443"))
}

// TestGatewayApply: a preflight is answered whatever its origin, with the
// allow headers only for an allowed one; applied again over an endpoint's
// head (the proxy does, when the response starts), Vary keeps the
// endpoint's values and names Origin once.
func TestGatewayApply(t *testing.T) {
	p := NewGateway(GatewayConfig{AllowOrigins: []string{"https://*.example.com"}, AllowMethods: []string{"GET"},
		AllowHeaders: []string{"*"}, AllowCredentials: true})
	require.True(t, p.OwnsHeaders())
	preflight := request(http.MethodOptions, "https://a.example.com")
	preflight.Header.Set("Access-Control-Request-Method", "GET")
	preflight.Header.Set("Access-Control-Request-Headers", "x-a")
	h := http.Header{}
	assert.True(t, p.Apply(h, preflight))
	assert.Equal(t, http.Header{
		"Vary":                             {"Origin"},
		"Access-Control-Allow-Origin":      {"https://a.example.com"},
		"Access-Control-Allow-Credentials": {"true"},
		"Access-Control-Allow-Methods":     {"GET"},
		"Access-Control-Allow-Headers":     {"x-a"},
		"Access-Control-Max-Age":           {"5"},
	}, h)

	other := request(http.MethodOptions, "https://evil.test")
	other.Header.Set("Access-Control-Request-Method", "GET")
	h = http.Header{}
	assert.True(t, p.Apply(h, other), "answered, never forwarded")
	assert.Equal(t, http.Header{"Vary": {"Origin"}}, h)

	assert.False(t, p.Apply(http.Header{}, request(http.MethodOptions, "https://a.example.com")), "no Access-Control-Request-Method: not a preflight")
	h = http.Header{"Vary": {"Accept-Encoding"}}
	get := request(http.MethodGet, "https://a.example.com")
	p.Apply(h, get)
	p.Apply(h, get)
	assert.Equal(t, []string{"Accept-Encoding", "Origin"}, h["Vary"])
	assert.Equal(t, []string{"https://a.example.com"}, h["Access-Control-Allow-Origin"], "credentials: the origin, not *")
}
