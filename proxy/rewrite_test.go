package proxy

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/proxy/table"
)

// rewritten sends a GET of each target to a.test on a front whose only
// route is rt (its action forwards to a recording backend), and checks
// the request target the backend read.
func rewritten(t *testing.T, rt *table.Route, want map[string]string) {
	t.Helper()
	f := newFront(t, Options{}, ServerOptions{})
	rec := newRecorder(t)
	rt.Host, rt.Action.Split = "a.test", table.Split{Main: rec.backend("rec")}
	f.publish(t, rt)
	for target, w := range want {
		before, _ := rec.requests()
		out, _ := rawExchange(t, f.plain, "GET "+target+" HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
		require.True(t, strings.HasPrefix(out, "HTTP/1.1 200 "), "%s: %q", target, out)
		after, bad := rec.requests()
		assert.Empty(t, bad)
		require.Len(t, after, len(before)+1, target)
		assert.Equal(t, w, after[len(before)].target, target)
	}
}

// The router matches a prefix against the cleaned path ("/../api/x" is
// "/api/x"), so the replacement applies to that same path. Applied to the
// raw one, "/../api/x" went upstream as "/v1/public/../api/x", which every
// normalising backend reads as "/v1/api/x": outside the subtree the route
// confines its requests to.
func TestPrefixRewriteCannotClimbOutOfItsReplacement(t *testing.T) {
	want := map[string]string{}
	for _, target := range []string{"/api/x", "/../api/x", "/../../api/x", "/api/../../api/x", "/%2e%2e/%2E%2E/api/x", "/./api//x"} {
		want[target] = "/v1/public/x"
	}
	rewritten(t, &table.Route{Path: table.PathMatch{Type: table.PathPrefix, Value: "/api"},
		Action: &table.Action{Rewrite: &table.Rewrite{Prefix: "/v1/public"}}}, want)
}

// The captures of a regex path come from the decoded path and go back into
// a request target: escaped again, as nginx escapes a rewritten URI.
// Inserted as they were, an encoded space answered 500 (a "configuration"
// error in the log), an encoded "?" moved the rest of the path into the
// query, and "%252e%252e" reached the backend as "%2e%2e", a ".." out of
// the rewrite's target.
func TestRewriteTargetKeepsTheClientsEscaping(t *testing.T) {
	rewritten(t, &table.Route{Path: table.PathMatch{Type: table.PathRegex, Value: "/api(/|$)(.*)"},
		Action: &table.Action{Rewrite: &table.Rewrite{Target: "/public/$2"}}}, map[string]string{
		"/api/x":                "/public/x",
		"/api/my%20doc.pdf":     "/public/my%20doc.pdf",
		"/api/a%3Fadmin=1?q=2":  "/public/a%3Fadmin=1?q=2",
		"/api/a%23b":            "/public/a%23b",
		"/api/100%25":           "/public/100%25",
		"/api/%252e%252e/admin": "/public/%252e%252e/admin",
		"/api/a%0db":            "/public/a%0Db",
	})
}
