package proxy

import (
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"time"

	"weir.dev/weir/proxy/table"
)

// outgoing is the request as it is sent to an endpoint: built once per
// request and reused by every attempt.
type outgoing struct {
	req           *http.Request
	addr          string
	method        string
	uri           string
	host          string
	header        http.Header
	body          io.Reader
	contentLength int64
	upgrade       string
	close         bool
}

// replayable reports whether the request can be sent again after a failed
// attempt: only when it has no body (bodies are streamed, not buffered).
func (o *outgoing) replayable() bool { return o.body == nil }

type timeouts struct{ connect, send, read time.Duration }

func backendTimeouts(b *table.Backend) timeouts {
	t := timeouts{connect: b.Timeouts.Connect, send: b.Timeouts.Send, read: b.Timeouts.Read}
	if t.connect <= 0 {
		t.connect = 5 * time.Second
	}
	if t.send <= 0 {
		t.send = 60 * time.Second
	}
	if t.read <= 0 {
		t.read = 60 * time.Second
	}
	return t
}

// hopHeaders are meaningful only for one connection and never forwarded
// (RFC 9110 section 7.6.1), along with any header the Connection header names.
var hopHeaders = map[string]bool{
	"Connection":          true,
	"Proxy-Connection":    true,
	"Keep-Alive":          true,
	"Proxy-Authenticate":  true,
	"Proxy-Authorization": true,
	"Te":                  true,
	"Trailer":             true,
	"Transfer-Encoding":   true,
	"Upgrade":             true,
	"Expect":              true,
	"Content-Length":      true,
	"Host":                true,
}

// forwardedHeaders are set by Weir; a client's own values are dropped unless
// it is a trusted proxy.
var forwardedHeaders = [...]string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port", "X-Real-Ip", "X-Forwarded-Prefix"}

// buildOutgoing prepares the upstream request: hop-by-hop headers removed,
// forwarding headers set, the request ID added and the route's rewrites
// applied. It copies the header map once.
func (s *Server) buildOutgoing(r *http.Request, rt *table.Route, a *table.Action, info *requestInfo) *outgoing {
	h := make(http.Header, len(r.Header)+6)
	var connHeaders []string
	if c := r.Header["Connection"]; len(c) > 0 {
		connHeaders = c
	}
	for k, vs := range r.Header {
		if hopHeaders[k] || connectionListed(connHeaders, k) {
			continue
		}
		h[k] = vs
	}
	trusted := info.trustedPeer
	if !trusted {
		for _, k := range forwardedHeaders {
			delete(h, k)
		}
	}
	if prior := h["X-Forwarded-For"]; trusted && len(prior) > 0 {
		h["X-Forwarded-For"] = []string{strings.Join(prior, ", ") + ", " + info.peerIP}
	} else {
		h["X-Forwarded-For"] = []string{info.peerIP}
	}
	if !trusted || h["X-Forwarded-Proto"] == nil {
		h["X-Forwarded-Proto"] = []string{info.scheme}
	}
	if !trusted || h["X-Forwarded-Host"] == nil {
		h["X-Forwarded-Host"] = []string{r.Host}
	}
	if !trusted || h["X-Forwarded-Port"] == nil {
		h["X-Forwarded-Port"] = []string{info.port}
	}
	h["X-Real-Ip"] = []string{info.clientIP}
	h["X-Request-Id"] = []string{info.requestID}

	out := &outgoing{
		req:           r,
		method:        r.Method,
		uri:           r.URL.RequestURI(),
		host:          r.Host,
		header:        h,
		contentLength: r.ContentLength,
	}
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		out.body = r.Body
	}
	if info.upgrade {
		out.upgrade = "websocket"
	}
	applyEdits(h, a.RequestHeaders)
	if a.HostRewrite != "" {
		out.host = a.HostRewrite
	}
	if a.Rewrite != nil && rt != nil {
		out.uri = rewriteURI(r, rt, a.Rewrite, h)
	}
	return out
}

func connectionListed(conn []string, key string) bool {
	for _, line := range conn {
		for line != "" {
			var tok string
			tok, line, _ = strings.Cut(line, ",")
			if textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(tok)) == key {
				return true
			}
		}
	}
	return false
}

func applyEdits(h http.Header, e table.HeaderEdits) {
	for _, n := range e.Remove {
		h.Del(n)
	}
	for _, kv := range e.Set {
		h.Set(kv.Name, kv.Value)
	}
	for _, kv := range e.Add {
		h.Add(kv.Name, kv.Value)
	}
}

// splitHostPort returns the host of a "host:port" address, or the address.
func splitHost(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return host
}
