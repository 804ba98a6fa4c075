package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"weir.dev/weir/proxy/table"
	"weir.dev/weir/proxy/upstream"
	"weir.dev/weir/proxy/wire"
)

// outgoing is the request as it is sent to an endpoint: built once per
// request and reused by every attempt.
type outgoing struct {
	req  *http.Request
	info *requestInfo
	addr string
	// gone ends connection attempts to addr when its endpoint is removed.
	gone          context.Context
	method        string
	uri           string
	host          string
	body          io.Reader
	contentLength int64
	upgrade       string
	// underscores keeps client headers whose names contain "_".
	underscores bool
	// header is the upstream header map, built only when needed (headers()).
	header http.Header
	// sentStd: an attempt went through a standard library or x/net
	// transport, whose goroutines may still read header (roundTripStd).
	sentStd bool
	// cb is the client's body as body reads it (body == &cb).
	cb clientBody
	// h1 is the request as the HTTP/1.1 client takes it (roundTripH1).
	h1 upstream.Request
	// room is where the HTTP/1.1 client builds the first attempt's
	// response (roundTripH1). A retry allocates its own: no attempt then
	// writes memory an earlier answer's reader might still hold.
	room      upstream.Room
	roomTaken bool
	// dialed is the time the transport took to open the connection that
	// carried the request (0: kept alive, or not known), for the metrics.
	dialed time.Duration
}

// endpointHeaderRoom is a ResponseWriter whose connection keeps a map for
// the endpoint's response fields, used by its requests one at a time:
// Weir's HTTP/1.x server (h1Response), two allocations fewer per request.
type endpointHeaderRoom interface{ endpointHeader() http.Header }

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

// isHopHeader reports the headers meaningful only for one connection,
// never forwarded (RFC 9110 section 7.6.1), along with any header the
// Connection header names. A switch, not a map: it is asked for every
// field of every request, twice.
func isHopHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Expect", "Content-Length", "Host":
		return true
	}
	return false
}

// isForwardedHeader reports the headers Weir sets, and the other names
// of the scheme that ingress-nginx sets (X-Forwarded-Scheme, X-Scheme:
// some backends read them before X-Forwarded-Proto); a client's own values
// are dropped unless it is a trusted proxy.
func isForwardedHeader(k string) bool {
	switch k {
	case "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port", "X-Real-Ip", "X-Forwarded-Prefix",
		"X-Forwarded-Scheme", "X-Scheme":
		return true
	}
	return false
}

// buildOutgoing prepares the upstream request: the request line, the
// route's rewrites and the request's forwarding facts. For HTTP/1.1 the
// headers are written straight from the client's request (hop-by-hop ones
// skipped, forwarding ones replaced), so no header map is built; a map is
// built only for HTTP/2 upstreams and routes that edit headers.
func (s *Server) buildOutgoing(w http.ResponseWriter, r *http.Request, rt *table.Route, a *table.Action, info *requestInfo) *outgoing {
	return s.fillOutgoing(new(outgoing), w, r, rt, a, info)
}

// fillOutgoing is buildOutgoing into out (the proxied request's lives in
// its exchange: no allocation).
func (s *Server) fillOutgoing(out *outgoing, w http.ResponseWriter, r *http.Request, rt *table.Route, a *table.Action, info *requestInfo) *outgoing {
	// Zeroed, then filled: a composite literal with fields would be built
	// on the stack and copied, a frame of 1 KiB that makes an HTTP/2
	// stream's goroutine grow its stack (docs/performance.md, "A request
	// path within a stream's first stack").
	*out = outgoing{}
	out.req, out.info = r, info
	out.method, out.uri, out.host = r.Method, r.RequestURI, r.Host
	out.contentLength = r.ContentLength
	out.underscores = s.opts.EnableUnderscoresInHeaders
	if er, ok := w.(endpointHeaderRoom); ok {
		out.room.Header = er.endpointHeader()
	}
	if !strings.HasPrefix(out.uri, "/") {
		out.uri = r.URL.RequestURI() // absolute-form or asterisk-form targets
	}
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		out.cb = clientBody{r: r.Body, dl: bodyDeadliner(w), timeout: s.bodyTimeout()}
		out.body = &out.cb
	}
	if info.upgrade {
		out.upgrade = "websocket"
	}
	if a.HostRewrite != "" {
		out.host = a.HostRewrite
	}
	e := a.RequestHeaders
	if len(e.Set)+len(e.Add)+len(e.Remove) > 0 {
		applyEdits(out.headers(), e)
	}
	if a.Rewrite != nil && rt != nil {
		out.uri = rewriteURI(r, rt, a.Rewrite)
		if a.Rewrite.ForwardedPrefix != "" {
			out.headers()["X-Forwarded-Prefix"] = []string{a.Rewrite.ForwardedPrefix}
		}
	}
	return out
}

// skipHeader reports whether a client header is not forwarded as is:
// hop-by-hop headers, headers the Connection header names, the forwarding
// headers Weir sets itself (kept from trusted peers), and names with "_"
// unless enabled: ingress-nginx drops them (nginx's underscores_in_headers
// off), because a backend may read "X_User" as "X-User", a header that
// Weir did not check or set.
func (o *outgoing) skipHeader(k string, conn []string) bool {
	if isHopHeader(k) || k == "X-Request-Id" || k == "X-Real-Ip" || k == "X-Forwarded-For" {
		return true
	}
	if k == "Proxy" {
		// httpoxy (CVE-2016-5385): CGI and FastCGI backends make it
		// HTTP_PROXY, the proxy of their own outgoing requests;
		// ingress-nginx clears it too.
		return true
	}
	if !o.underscores && strings.IndexByte(k, '_') >= 0 {
		return true
	}
	if !o.info.trustedPeer && isForwardedHeader(k) {
		return true
	}
	return len(conn) > 0 && connectionListed(conn, k)
}

// forwarded puts the headers Weir adds in kv and returns how many: an
// array, so that the request path does not allocate for them, filled in
// place (a result this size is a copy in the caller's frame).
func (o *outgoing) forwarded(kv *[6][2]string) (n int) {
	r, info := o.req, o.info
	add := func(k, v string) { kv[n] = [2]string{k, v}; n++ }
	xff := info.peerIP
	switch {
	case info.clientOnlyXFF:
		xff = info.clientIP
	case info.trustedPeer:
		// Only a trusted peer's header is looked up: the map lookup's frame
		// is the deepest of the request path (see WriteFields).
		if prior := r.Header["X-Forwarded-For"]; len(prior) > 0 {
			xff = strings.Join(prior, ", ") + ", " + info.peerIP
		}
	}
	add("X-Forwarded-For", xff)
	if !info.trustedPeer || r.Header["X-Forwarded-Proto"] == nil {
		add("X-Forwarded-Proto", info.scheme)
	}
	if !info.trustedPeer || r.Header["X-Forwarded-Host"] == nil {
		add("X-Forwarded-Host", r.Host)
	}
	if !info.trustedPeer || r.Header["X-Forwarded-Port"] == nil {
		add("X-Forwarded-Port", info.port)
	}
	add("X-Real-Ip", info.clientIP)
	add("X-Request-Id", info.requestID)
	return n
}

// headers builds (once) the upstream header map.
func (o *outgoing) headers() http.Header {
	if o.header != nil {
		return o.header
	}
	h := make(http.Header, len(o.req.Header)+6)
	conn := o.req.Header["Connection"]
	// The values are copied into one array of the map's own: the client's
	// live in its connection's memory, which the next request reuses
	// (h1Exchange), while a transport's goroutine may still read this map
	// after the exchange (an HTTP/2 stream cancelled mid-write, an early
	// answer of an HTTP/1.1 endpoint).
	nv := 0
	for _, vs := range o.req.Header {
		nv += len(vs)
	}
	vals := make([]string, 0, nv)
	for k, vs := range o.req.Header {
		if !o.skipHeader(k, conn) {
			vals = append(vals, vs...)
			h[k] = vals[len(vals)-len(vs) : len(vals) : len(vals)]
		}
	}
	var kv [6][2]string
	n := o.forwarded(&kv)
	for _, p := range kv[:n] {
		h[p[0]] = []string{p[1]}
	}
	o.header = h
	return h
}

// WriteFields writes the header fields of the HTTP/1.1 request
// (upstream.Fields): the edited map when there is one, else the client's
// fields less the hop-by-hop and forwarding ones, then Weir's forwarding
// fields. checkOutgoing has checked every one of them.
func (o *outgoing) WriteFields(bw *bufio.Writer) {
	if o.header != nil {
		writeHeaderMap(bw, o.header)
		return
	}
	conn := o.req.Header["Connection"]
	for k, vs := range o.req.Header {
		if o.skipHeader(k, conn) {
			continue
		}
		for _, v := range vs {
			wire.WriteField(bw, k, v)
		}
	}
	o.writeForwarded(bw)
}

// writeHeaderMap writes the fields of h. It and writeForwarded are
// functions of their own, never inlined: WriteFields is the deepest frame
// of a request's path, and each would add its locals there
// (docs/performance.md, "A request path within a stream's first stack").
//
//go:noinline
func writeHeaderMap(bw *bufio.Writer, h http.Header) {
	for k, vs := range h {
		for _, v := range vs {
			wire.WriteField(bw, k, v)
		}
	}
}

// writeForwarded writes the forwarding fields Weir adds.
//
//go:noinline
func (o *outgoing) writeForwarded(bw *bufio.Writer) {
	var kv [6][2]string
	n := o.forwarded(&kv)
	for _, p := range kv[:n] {
		wire.WriteField(bw, p[0], p[1])
	}
}

// connectionListed reports whether the Connection lists in conn name the
// header key (header names compare case-insensitively).
func connectionListed(conn []string, key string) bool {
	return wire.HasToken(conn, key)
}

// applyEdits applies configured header edits to h. Names that frame the
// message, belong to one hop or route it (wire.FramesOrRoutes) are never
// set, added or removed, whatever the table holds: the translation refuses
// setting or adding the same names, and a removal would take away what
// Weir itself put there (the Connection: close that ends a connection
// after a chunked request, a 431 or a drain).
func applyEdits(h http.Header, e table.HeaderEdits) {
	for _, n := range e.Remove {
		if !wire.FramesOrRoutes(http.CanonicalHeaderKey(n)) {
			h.Del(n)
		}
	}
	for _, kv := range e.Set {
		if !wire.FramesOrRoutes(http.CanonicalHeaderKey(kv.Name)) {
			h.Set(kv.Name, kv.Value)
		}
	}
	for _, kv := range e.Add {
		if !wire.FramesOrRoutes(http.CanonicalHeaderKey(kv.Name)) {
			h.Add(kv.Name, kv.Value)
		}
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

// clientBody is the client's request body as the upstream request reads it.
// Each read waits at most timeout for the client (nginx's
// client_body_timeout: the time between two reads, not the whole upload),
// and the first error is kept, so that forward can tell a client's fault (a
// malformed chunk, a body too large, a client too slow or gone) from the
// endpoint's: the former is never a passive-health failure nor retried.
type clientBody struct {
	r       io.Reader
	dl      deadliner
	timeout time.Duration
	err     atomic.Pointer[error]
	// stall, when set, is pushed back by every read (roundTripStd).
	stall atomic.Pointer[stallTimer]
}

type deadliner interface{ SetReadDeadline(time.Time) error }

// bodyDeadliner returns what sets the read deadline of w's request body
// (both net/http servers implement it; ResponseController finds it behind
// wrappers, at the cost of an allocation).
func bodyDeadliner(w http.ResponseWriter) deadliner {
	if d, ok := w.(deadliner); ok {
		return d
	}
	return http.NewResponseController(w)
}

func (b *clientBody) Read(p []byte) (int, error) {
	if b.timeout > 0 {
		b.dl.SetReadDeadline(time.Now().Add(b.timeout))
	}
	n, err := b.r.Read(p)
	if st := b.stall.Load(); st != nil && n > 0 {
		st.touch()
	}
	switch {
	case err == io.EOF && b.timeout > 0:
		// net/http's server reads on after the body's end to notice a
		// client that leaves; that read must not time out.
		b.dl.SetReadDeadline(time.Time{})
	case err != nil && err != io.EOF:
		first := err // a copy: taking &err would move err to the heap on every read
		b.err.CompareAndSwap(nil, &first)
		// net/http's HTTP/1.1 server reads what is left of a body before
		// it sends the answer; from a client that stalled, that would
		// never end. With the deadline past it fails at once, and the
		// connection is closed after the answer.
		b.dl.SetReadDeadline(time.Unix(1, 0))
	}
	return n, err
}

// failed returns the error reading the client's body, if any.
func (b *clientBody) failed() error {
	if e := b.err.Load(); e != nil {
		return *e
	}
	return nil
}

// clientBodyStatus is the answer to a request whose body could not be read:
// 413 over the body-size limit, 408 for a client too slow, 400 otherwise
// (a malformed chunk, a body shorter than its Content-Length).
func clientBodyStatus(err error) int {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge
	case isTimeout(err):
		return http.StatusRequestTimeout
	}
	return http.StatusBadRequest
}

// stallTimer cancels an exchange through a standard transport when neither
// the upload nor the response makes progress for d: every body read pushes
// it back, so a slow but steady upload is not cut.
type stallTimer struct {
	mu   sync.Mutex
	t    *time.Timer
	d    time.Duration
	done bool
}

func newStallTimer(d time.Duration, f func()) *stallTimer {
	return &stallTimer{t: time.AfterFunc(d, f), d: d}
}

func (s *stallTimer) touch() {
	s.mu.Lock()
	if !s.done {
		s.t.Reset(s.d)
	}
	s.mu.Unlock()
}

// stop disarms the timer for good; false means it had fired.
func (s *stallTimer) stop() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done = true
	return s.t.Stop()
}
