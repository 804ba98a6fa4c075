package proxy

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"weir.dev/weir/proxy/table"
)

// A RequestRedirect's ReplacePrefixMatch replaces the prefix of the path
// the router matched, as URLRewrite does (matchedPath): the raw path's ".."
// and "//" segments, which routing resolved, never reach the Location.
func TestRedirectPrefixUsesTheMatchedPath(t *testing.T) {
	h := newHarness(t, Options{})
	h.publishGateway(
		gwRoute("r.test", "/old", &table.Action{Redirect: &table.Redirect{Status: 302, Port: 80, PrefixPath: "/new"}}),
		gwRoute("r.test", "/strip", &table.Action{Redirect: &table.Redirect{Status: 302, Port: 80, PrefixPath: "/"}}))
	client := h.front.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, tc := range []struct{ path, location string }{
		{"/x/../old/a", "http://r.test/new/a"},
		{"/old//a", "http://r.test/new/a"},
		{"/strip//evil.test/x", "http://r.test/evil.test/x"},
	} {
		resp, _ := h.do(newReq("GET", "http://r.test"+tc.path))
		assert.Equal(t, 302, resp.StatusCode, tc.path)
		assert.Equal(t, tc.location, resp.Header.Get("Location"), tc.path)
	}
}
