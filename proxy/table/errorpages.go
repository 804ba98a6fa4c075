package table

import (
	"fmt"
	"strings"
)

// ErrorPages is ingress-nginx's custom-http-errors with default-backend:
// for a listed status (from the endpoint, or Weir's own 502, 503 and 504)
// the client gets Backend's answer to a GET of the same URI, with the
// original status; with Unavailable, a request whose backend has no
// endpoint is forwarded to Backend instead.
type ErrorPages struct {
	Backend *Backend
	// Codes are the intercepted statuses (300-599); empty intercepts none.
	Codes []int
	// Unavailable is set by the default-backend annotation.
	Unavailable bool
	// Namespace and Ingress are sent as X-Namespace and X-Ingress-Name.
	Namespace, Ingress string
}

// Intercepts reports whether code is listed. A 304 never is: it has no
// body to replace, and its head updates what the client has cached.
func (e *ErrorPages) Intercepts(code int) bool {
	if code == 304 {
		return false
	}
	for _, c := range e.Codes {
		if c == code {
			return true
		}
	}
	return false
}

// MirrorTarget is a mirror backend named by URL (ingress-nginx's
// mirror-target) rather than by a Service.
type MirrorTarget struct {
	// URI is the copy's request target; "$request_uri" in it stands for
	// the client's path and query, and "" sends the client's unchanged.
	URI string
	// Host is the copy's Host header.
	Host string
	// NoBody sends copies without the request body (mirror-request-body
	// off).
	NoBody bool
}

// RequestURI returns the copy's request target for a client's.
func (m *MirrorTarget) RequestURI(clientURI string) string {
	if m.URI == "" {
		return clientURI
	}
	if !strings.Contains(m.URI, "$request_uri") {
		return m.URI
	}
	return strings.ReplaceAll(m.URI, "$request_uri", clientURI)
}

// dumpErrorPages writes the ingress-nginx error pages, mirror targets and
// compression of an action.
func dumpErrorPages(b *strings.Builder, a *Action, in string) {
	if e := a.ErrorPages; e != nil {
		fmt.Fprintf(b, "%serror-pages %s codes=%v unavailable=%t\n", in, e.Backend.Name, e.Codes, e.Unavailable)
	}
	for _, m := range a.Mirrors {
		if t := m.Target; t != nil {
			fmt.Fprintf(b, "%smirror-target %s uri=%q host=%q body=%t\n", in, m.Backend.Name, t.URI, t.Host, !t.NoBody)
		}
	}
	if a.Compression != nil {
		fmt.Fprintf(b, "%scompression %s\n", in, a.Compression)
	}
}
