package proxy

import (
	"net/http"
	"net/url"
	"strings"

	"weir.dev/weir/proxy/table"
)

// rewriteURI returns the request URI to send upstream for a route with a
// rewrite; the query string is always kept.
func rewriteURI(r *http.Request, rt *table.Route, rw *table.Rewrite) string {
	path := r.URL.EscapedPath()
	switch {
	case rw.Full != "":
		path = rw.Full
	case rw.Prefix != "" && rt.Path.Type == table.PathPrefix:
		path = replacePrefix(matchedPath(r), rt.Path.Value, rw.Prefix)
	case rw.Target != "":
		path = expandTarget(rt, table.CleanPath(r.URL.Path), rw.Target)
	}
	if r.URL.RawQuery != "" {
		return path + "?" + r.URL.RawQuery
	}
	return path
}

// matchedPath is the path the router matched (table.CleanPath of the
// decoded path), escaped: the request's own escaping when its path is
// already clean, else the cleaned path escaped again. A replacement applied
// to the raw path would keep the ".." segments the router resolved, and
// "/../api/x", routed as "/api/x", would climb out of the replacement
// upstream ("/v1/public/../api/x").
func matchedPath(r *http.Request) string {
	p := table.CleanPath(r.URL.Path)
	if p == r.URL.Path {
		return r.URL.EscapedPath()
	}
	u := *r.URL
	u.Path, u.RawPath = p, ""
	return u.EscapedPath()
}

// replacePrefix swaps the matched path prefix for repl, keeping exactly one
// "/" at the seam ("/foo" -> "/" turns "/foo/bar" into "/bar").
func replacePrefix(path, prefix, repl string) string {
	rest := strings.TrimPrefix(path, strings.TrimSuffix(prefix, "/"))
	switch {
	case rest == "":
		return repl
	case strings.HasSuffix(repl, "/") && strings.HasPrefix(rest, "/"):
		return repl + rest[1:]
	default:
		return repl + rest
	}
}

// expandTarget fills $1..$9 in an ingress-nginx rewrite-target from the
// route's regex captures.
func expandTarget(rt *table.Route, path, target string) string {
	sub := rt.PathSubmatch(path)
	if !strings.Contains(target, "$") {
		return target
	}
	var b strings.Builder
	for i := 0; i < len(target); i++ {
		c := target[i]
		if c == '$' && i+1 < len(target) && target[i+1] >= '0' && target[i+1] <= '9' {
			n := int(target[i+1] - '0')
			if n < len(sub) {
				// Captures are of the decoded path: escaped again, so
				// that a "%3F", "%20" or "%252e" the client sent stays
				// what it was ("?" would start the query, "%2e" become
				// a dot segment upstream), as nginx escapes the URI.
				b.WriteString((&url.URL{Path: sub[n]}).EscapedPath())
			}
			i++
			continue
		}
		b.WriteByte(c)
	}
	out := b.String()
	if !strings.HasPrefix(out, "/") {
		out = "/" + out
	}
	return out
}
