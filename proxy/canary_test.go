package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/proxy/table"
)

func canaryRoute(main, canary *table.Backend, c table.Canary) *table.Route {
	c.Backend = canary
	if c.WeightTotal == 0 {
		c.WeightTotal = 100
	}
	rt := routeTo("app.test", "/", main)
	rt.Action.Split.Canary = &c
	return rt
}

func TestCanaryThroughTheProxy(t *testing.T) {
	h := newHarness(t, Options{})
	v1, v2 := named(t, "v1"), named(t, "v2")
	main, canary := backendOf("v1", v1), backendOf("v2", v2)
	h.publish(canaryRoute(main, canary, table.Canary{Header: "X-Canary", Cookie: "canary", Weight: 0}))

	_, body := h.get("app.test", "/")
	assert.True(t, strings.HasPrefix(body, "v1 "), body)
	_, body = h.get("app.test", "/", "X-Canary", "always")
	assert.True(t, strings.HasPrefix(body, "v2 "), body)
	_, body = h.get("app.test", "/", "Cookie", "canary=always")
	assert.True(t, strings.HasPrefix(body, "v2 "), body)
	_, body = h.get("app.test", "/", "X-Canary", "never", "Cookie", "canary=always")
	assert.True(t, strings.HasPrefix(body, "v1 "), body)
}

func TestCanaryWithoutEndpointsFallsBackToMain(t *testing.T) {
	h := newHarness(t, Options{})
	main := backendOf("v1", named(t, "v1"))
	h.publish(canaryRoute(main, &table.Backend{Name: "v2"}, table.Canary{Header: "X-Canary", Weight: 100}))
	code, body := h.get("app.test", "/", "X-Canary", "always")
	assert.Equal(t, 200, code)
	assert.True(t, strings.HasPrefix(body, "v1 "), body)
}

func TestMainWithoutEndpointsStillServesTheCanary(t *testing.T) {
	// ingress-nginx answers 503 here (#9635); Weir runs the rules.
	h := newHarness(t, Options{})
	canary := backendOf("v2", named(t, "v2"))
	h.publish(canaryRoute(&table.Backend{Name: "v1"}, canary, table.Canary{Header: "X-Canary"}))
	code, body := h.get("app.test", "/", "X-Canary", "always")
	assert.Equal(t, 200, code)
	assert.True(t, strings.HasPrefix(body, "v2 "), body)
	code, _ = h.get("app.test", "/")
	assert.Equal(t, 503, code)
}

func TestWeightedCanaryShare(t *testing.T) {
	h := newHarness(t, Options{})
	main, canary := backendOf("v1", named(t, "v1")), backendOf("v2", named(t, "v2"))
	h.publish(canaryRoute(main, canary, table.Canary{Weight: 20}))
	n, hits := 1000, 0
	for i := 0; i < n; i++ {
		_, body := h.get("app.test", "/")
		if strings.HasPrefix(body, "v2 ") {
			hits++
		}
	}
	// Binomial(1000, 0.2): sd 12.6; ±60 is more than 4.5 sd (seeded anyway).
	assert.InDelta(t, 200, hits, 60)
}

func TestStickyCanaryKeepsTheClientOnItsSide(t *testing.T) {
	h := newHarness(t, Options{})
	main, canary := backendOf("v1", named(t, "v1")), backendOf("v2", named(t, "v2"))
	main.Balance.Affinity = &table.Affinity{CookieName: "INGRESSCOOKIE"}
	h.publish(canaryRoute(main, canary, table.Canary{Header: "X-Canary"}))

	req := httptest.NewRequest(http.MethodGet, "http://app.test/", nil)
	req.RequestURI = ""
	req.Header.Set("X-Canary", "always")
	resp, body := h.do(req)
	require.True(t, strings.HasPrefix(body, "v2 "), body)
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "INGRESSCOOKIE" {
			cookie = c
		}
	}
	require.NotNil(t, cookie, "the canary sets the main route's affinity cookie")
	assert.True(t, strings.HasPrefix(cookie.Value, "c."))
	assert.True(t, cookie.HttpOnly)

	// Without the header, the cookie keeps the client on the canary.
	_, body = h.get("app.test", "/", "Cookie", "INGRESSCOOKIE="+cookie.Value)
	assert.True(t, strings.HasPrefix(body, "v2 "), body)

	// Legacy: the canary sets no cookie.
	h.publish(canaryRoute(main, canary, table.Canary{Header: "X-Canary", Legacy: true}))
	req = httptest.NewRequest(http.MethodGet, "http://app.test/", nil)
	req.RequestURI = ""
	req.Header.Set("X-Canary", "always")
	resp, _ = h.do(req)
	assert.Empty(t, resp.Cookies())
}
