package proxy

import (
	"net/http"
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
		path = replacePrefix(path, rt.Path.Value, rw.Prefix)
	case rw.Target != "":
		path = expandTarget(rt, table.CleanPath(r.URL.Path), rw.Target)
	}
	if r.URL.RawQuery != "" {
		return path + "?" + r.URL.RawQuery
	}
	return path
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
				b.WriteString(sub[n])
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
