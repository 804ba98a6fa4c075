package table

import (
	"net/http"
	"net/url"
	"strings"
)

// Lookup returns the route that serves a request for host and path, or nil
// when none does (the caller then uses Default). host must be normalised by
// NormalizeHost and path by CleanPath. The exact host is consulted first,
// then the one-label wildcard, then the catch-all; only the first of these
// that exists is searched, as each host is a server of its own in
// ingress-nginx. Lookup does not allocate.
func (t *Table) Lookup(host, path string, r *http.Request) *Route {
	h := t.hostEntry(host)
	if h == nil {
		return nil
	}
	for _, rt := range h.routes {
		if rt.matches(path, r) {
			return rt
		}
	}
	return nil
}

func (t *Table) hostEntry(host string) *hostRoutes {
	if h := t.exact.get(host); h != nil {
		return h
	}
	if t.gatewayHosts {
		// Longest wildcard first: "*.b.example.com" before "*.example.com".
		for i := strings.IndexByte(host, '.'); i > 0 && i < len(host)-1; {
			if h := t.wildcard.get(host[i+1:]); h != nil {
				return h
			}
			j := strings.IndexByte(host[i+1:], '.')
			if j < 0 {
				break
			}
			i += 1 + j
		}
		return t.catchAll
	}
	if i := strings.IndexByte(host, '.'); i > 0 {
		if h := t.wildcard.get(host[i+1:]); h != nil {
			return h
		}
	}
	return t.catchAll
}

func (rt *Route) matches(path string, r *http.Request) bool {
	if !rt.Path.matches(path) {
		return false
	}
	if rt.Method != "" && (r == nil || r.Method != rt.Method) {
		return false
	}
	for i := range rt.Headers {
		if !rt.Headers[i].matches(r) {
			return false
		}
	}
	if len(rt.Query) > 0 {
		if r == nil {
			return false
		}
		for i := range rt.Query {
			if !rt.Query[i].matches(r.URL.RawQuery) {
				return false
			}
		}
	}
	return true
}

func (p *PathMatch) matches(path string) bool {
	switch p.Type {
	case PathExact:
		return path == p.Value
	case PathRegex, PathRegexFull:
		return p.re.MatchString(path)
	default:
		return prefixMatch(p.Value, path)
	}
}

// prefixMatch matches by path element: "/foo" matches "/foo" and "/foo/..."
// but not "/foobar"; "/foo/" matches only "/foo/...".
func prefixMatch(prefix, path string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || prefix[len(prefix)-1] == '/' || path[len(prefix)] == '/'
}

func (h *HeaderMatch) matches(r *http.Request) bool {
	if r == nil {
		return false
	}
	vs := r.Header[h.key]
	if len(vs) == 0 {
		return false
	}
	if h.Type == MatchRegex {
		return h.re.MatchString(vs[0])
	}
	return vs[0] == h.Value
}

func (q *QueryMatch) matches(rawQuery string) bool {
	v, ok := queryValue(rawQuery, q.Name)
	if !ok {
		return false
	}
	if q.Type == MatchRegex {
		return q.re.MatchString(v)
	}
	return v == q.Value
}

// queryValue finds the first value of a query parameter without building a
// url.Values map. It allocates only when the value is percent-encoded.
func queryValue(rawQuery, name string) (string, bool) {
	for rawQuery != "" {
		var kv string
		kv, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(kv, "=")
		if k != name {
			if !strings.ContainsAny(k, "%+") {
				continue
			}
			if uk, err := url.QueryUnescape(k); err != nil || uk != name {
				continue
			}
		}
		if strings.ContainsAny(v, "%+") {
			uv, err := url.QueryUnescape(v)
			if err != nil {
				return "", false
			}
			return uv, true
		}
		return v, true
	}
	return "", false
}

// NormalizeHost turns a Host header into the table's key: the port removed,
// lower case, and a trailing dot dropped. It allocates only when the name
// has upper-case letters.
func NormalizeHost(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		if strings.HasPrefix(host, "[") {
			if j := strings.IndexByte(host, ']'); j > 0 {
				host = host[1:j]
			}
		} else if strings.IndexByte(host, ':') == i {
			host = host[:i]
		}
	}
	host = strings.TrimSuffix(host, ".")
	for i := 0; i < len(host); i++ {
		if c := host[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(host)
		}
	}
	return host
}

// CleanPath normalises a request path for matching: "//" collapses, "." and
// ".." elements are resolved and cannot climb above "/", and a trailing slash
// is kept. A path that is already clean is returned as is, without
// allocating.
func CleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if isClean(p) {
		return p
	}
	var b []byte
	if p[0] != '/' {
		b = append(b, '/')
	}
	segs := strings.Split(p, "/")
	out := make([]string, 0, len(segs))
	for _, s := range segs {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	b = append(b[:0], '/')
	b = append(b, strings.Join(out, "/")...)
	last := segs[len(segs)-1]
	if (last == "" || last == "." || last == "..") && len(out) > 0 {
		b = append(b, '/')
	}
	return string(b)
}

// isClean reports whether p starts with "/" and has no empty, "." or ".."
// element (a trailing "/" is allowed).
func isClean(p string) bool {
	if p[0] != '/' {
		return false
	}
	start := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		seg := p[start:i]
		if (seg == "" && i < len(p)) || seg == "." || seg == ".." {
			return false
		}
		start = i + 1
	}
	return true
}

// PathSubmatch returns the regex captures of a PathRegex route for path
// (index 0 is the whole match), or nil for other routes.
func (rt *Route) PathSubmatch(path string) []string {
	if rt.Path.re == nil {
		return nil
	}
	return rt.Path.re.FindStringSubmatch(path)
}
