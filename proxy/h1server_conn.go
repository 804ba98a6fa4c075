package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"weir.dev/weir/proxy/upstream"
	"weir.dev/weir/proxy/wire"
)

// h1ServerConn is one client connection of Weir's HTTP/1.x server.
type h1ServerConn struct {
	srv    *h1Server
	nc     net.Conn
	tls    *tls.ConnectionState
	state  atomic.Int32
	rd     savedByteReader // br reads through it
	br     *bufio.Reader
	bw     *bufio.Writer
	remote string
	// ctx is every request's context: cancelled when the client is seen
	// leaving (watch) or the connection ends.
	ctx     *connCtx
	tmpl    http.Request // carries ctx into each request
	head    []byte       // the request head being read
	pending []byte       // a response body not yet framed
	header  http.Header  // the response header, cleared per request
	// reqHeader is the request header map, emptied per request.
	reqHeader http.Header
	// upHeader is the map of the endpoint's response fields (an
	// upstream.Room's), emptied once the handler is done (run).
	upHeader http.Header
	// spare is the last request's exchange, for the next one to reuse
	// (run): a kept-alive connection allocates it once, not per request.
	spare    *h1Exchange
	hijacked bool
	watch    h1Watch
	send     sendDeadline // the writes' deadline (sendtimeout.go)
	recv     recvDeadline // the reads' deadline, as the serving goroutine set it
	raw      rawState     // serving inside the read wait (h1server_raw.go)
	bwLent   bool         // bw is lent back to clientWriters while idle
	// woke: the request's first write to the client went through
	// wire.BeforeWake; its later writes (a streamed body) do not yield.
	woke bool
	// headArr is head's first buffer: most heads fit, and a connection
	// that carries one request then allocates none for it.
	headArr [512]byte
}

var (
	clientReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}
	clientWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}
)

func newH1ServerConn(s *h1Server, nc net.Conn, state *tls.ConnectionState) *h1ServerConn {
	c := &h1ServerConn{srv: s, nc: nc, tls: state, remote: nc.RemoteAddr().String(), header: make(http.Header, 8)}
	c.state.Store(connIdle)
	c.head = c.headArr[:0]
	c.rd.conn = nc
	c.br = clientReaders.Get().(*bufio.Reader)
	c.br.Reset(&c.rd)
	c.bw = clientWriters.Get().(*bufio.Writer)
	c.bw.Reset(h1Sender{c})
	ctx := context.WithValue(context.Background(), http.LocalAddrContextKey, nc.LocalAddr())
	c.ctx = newConnCtx(ctx)
	c.tmpl = *(&http.Request{}).WithContext(c.ctx) // inlined: the copy is on the stack
	c.watch.c = c
	if c.raw.rc = rawConnOf(nc); c.raw.rc != nil {
		c.raw.step = c.rawStep
	}
	return c
}

// release closes the connection (unless a handler took it over) and
// returns the buffers.
func (c *h1ServerConn) release(closeConn bool) {
	c.ctx.cancel()
	if !closeConn {
		return // the hijacker owns the connection and its buffers
	}
	c.nc.Close()
	c.br.Reset(nil)
	clientReaders.Put(c.br)
	c.bw.Reset(nil)
	clientWriters.Put(c.bw)
}

// maxDiscard is how much of a request body the handler left unread is
// read away to keep the connection (net/http's figure).
const maxDiscard = 256 << 10

func (c *h1ServerConn) serve() {
	defer func() { c.release(!c.hijacked) }()
	for first := true; ; first = false {
		ex, ok := c.next(first)
		if !ok {
			return
		}
		if !c.run(ex) || c.hijacked {
			if !c.hijacked && ex.body.c != nil && !ex.body.done {
				c.linger() // the client may still be sending its body
			}
			return
		}
	}
}

// next returns the connection's next request to serve, after serving
// those it can inside the read wait; false: the connection is done.
func (c *h1ServerConn) next(first bool) (*h1Exchange, bool) {
	var waited time.Duration
	if !first && c.raw.rc != nil {
		switch c.serveRaw() {
		case rawEnded:
			return nil, false
		case rawRun:
			return c.raw.ex, true
		case rawRefuse:
			c.refuse(c.raw.err)
			return nil, false
		case rawIdle:
			waited = c.rawWaitFor()
		}
	}
	if !c.waitRequest(first, waited) {
		return nil, false
	}
	ex, err := c.readRequest()
	if err != nil {
		c.refuse(err)
		return nil, false
	}
	return ex, true
}

// waitRequest waits for the first byte of the next request, within the
// read-header timeout for the first request and the idle timeout after
// (less what the connection has waited already).
func (c *h1ServerConn) waitRequest(first bool, waited time.Duration) bool {
	if c.br.Buffered() > 0 {
		// Pipelined: the connection stays active, the rest of the head
		// comes within the read-header timeout.
		c.recv.extend(c.nc, c.srv.opts.ReadHeaderTimeout)
		return true
	}
	if !first && !c.srv.keepAlive() {
		c.state.Store(connIdle)
		return false
	}
	timeout := c.srv.opts.IdleTimeout - waited
	if first {
		timeout = c.srv.opts.ReadHeaderTimeout
	}
	c.idle(timeout, wire.DeadlineSlack(timeout))
	_, err := c.br.Peek(1)
	if !c.busy() || err != nil {
		return false // Shutdown closed it meanwhile, or the client left
	}
	if first && c.srv.opts.CleartextHTTP2 && c.tls == nil && c.isH2Preface() {
		c.hijacked = true
		c.srv.handOff(&prefixConn{Conn: c.nc, br: c.br})
		return false
	}
	if !first && !c.headBuffered() {
		c.recv.extend(c.nc, c.srv.opts.ReadHeaderTimeout)
	}
	return true
}

// idle marks the connection idle between requests, for at most timeout,
// and lends its (empty) writer back: idle connections hold none, and the
// one taken after is the pool's most recently used, still in the CPU's
// cache. The read deadline is timeout from now, or up to slack later.
func (c *h1ServerConn) idle(timeout, slack time.Duration) {
	c.state.Store(connIdle)
	c.recv.extendWithin(c.nc, timeout, slack)
	c.bw.Reset(nil)
	clientWriters.Put(c.bw)
	c.bwLent = true
}

// busy takes the writer back and marks the connection active once a
// request has begun; false: Shutdown closed it meanwhile.
func (c *h1ServerConn) busy() bool {
	c.reclaimWriter()
	return c.state.CompareAndSwap(connIdle, connActive)
}

func (c *h1ServerConn) reclaimWriter() {
	if c.bwLent {
		c.bwLent = false
		c.bw = clientWriters.Get().(*bufio.Writer)
		c.bw.Reset(h1Sender{c})
	}
}

// headBuffered reports whether the buffer holds the end of a head (an
// empty line), so reading the head makes no read on the connection and
// needs no deadline of its own: one system-call-free but timer-moving
// SetReadDeadline less per request. Every later read sets its own (a body's
// in readRequest, the watch's, drain's, the next waitRequest's).
func (c *h1ServerConn) headBuffered() bool {
	b, _ := c.br.Peek(c.br.Buffered())
	return bytes.Contains(b, crlfcrlf)
}

var crlfcrlf = []byte("\r\n\r\n")

// isH2Preface reports whether the connection starts with HTTP/2's
// connection preface ("PRI * HTTP/2.0"), which net/http then reads.
func (c *h1ServerConn) isH2Preface() bool {
	const preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	for n := 1; n <= len(preface); n++ {
		b, err := c.br.Peek(n)
		if err != nil || b[n-1] != preface[n-1] {
			return false
		}
	}
	return true
}

// prefixConn is a connection whose first bytes were read into br.
type prefixConn struct {
	net.Conn
	br *bufio.Reader
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if p.br != nil && p.br.Buffered() > 0 {
		return p.br.Read(b)
	}
	return p.Conn.Read(b)
}

// readRequest reads and parses one request head.
func (c *h1ServerConn) readRequest() (*h1Exchange, error) {
	var err error
	c.head, err = readRequestHead(c.br, c.head, c.srv.maxHead)
	if err != nil {
		return nil, err
	}
	head := string(c.head)
	if cap(c.head) > 8<<10 {
		c.head = c.headArr[:0] // a large head is not kept for the connection's life
	}
	ex := c.spare // cleared when parked (run)
	if ex != nil {
		c.spare = nil
	} else {
		ex = &h1Exchange{c: c}
	}
	h := c.requestHeader()
	rh, err := parseRequestHead(head, h, ex.vals[:])
	if err != nil {
		return nil, err
	}
	ex.head = len(head)
	u := &ex.url
	if err := setRequestURL(u, &rh); err != nil {
		return nil, errHeadTarget
	}
	r := &ex.req
	*r = c.tmpl
	r.Method, r.URL, r.RequestURI, r.Header = rh.method, u, rh.target, h
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, rh.minor
	if rh.minor == 0 {
		r.Proto = "HTTP/1.0"
	}
	r.Host = u.Host
	if r.Host == "" {
		r.Host = rh.host
	}
	r.RemoteAddr, r.TLS, r.Close = c.remote, c.tls, rh.close || rh.method == http.MethodConnect
	r.ContentLength = rh.contentLength
	r.Body = http.NoBody
	if rh.contentLength != 0 {
		// As net/http: no deadline on the body but the handler's own
		// (the client body timeout).
		c.recv.set(c.nc, time.Time{})
		ex.body = h1ReqBody{c: c, ex: ex, chunked: rh.contentLength < 0, n: rh.contentLength}
		if ex.body.chunked {
			r.TransferEncoding = []string{"chunked"}
			ex.body.cr = httputil.NewChunkedReader(c.br)
		}
		r.Body = &ex.body
	}
	ex.resp.ex = ex
	return ex, nil
}

// requestHeader returns the connection's request header map, emptied:
// one map serves all of a connection's requests (its handler is done with
// the previous request's), unless a request left it large.
func (c *h1ServerConn) requestHeader() http.Header {
	if h := c.reqHeader; h != nil && len(h) <= maxKeptFields {
		clear(h)
		return h
	}
	c.reqHeader = make(http.Header, 8)
	return c.reqHeader
}

// maxKeptFields is the most header fields whose map a connection keeps for
// its next request (emptying a map costs its size).
const maxKeptFields = 32

// refuse answers a head that could not be read, unless the client left.
func (c *h1ServerConn) refuse(err error) {
	var he *headError
	if !errors.As(err, &he) {
		return // EOF, timeout, reset: nothing to answer
	}
	c.bw.WriteString("HTTP/1.1 ")
	c.bw.WriteString(statusLine(he.status))
	c.bw.WriteString("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")
	c.bw.WriteString(he.msg)
	c.bw.WriteString("\n")
	c.send.pin(c.nc, time.Now().Add(c.srv.opts.ReadHeaderTimeout))
	if c.bw.Flush() == nil {
		c.linger()
	}
}

// linger ends the connection's write side and reads away what the client
// is still sending, for a moment, so that the answer is not lost to a
// reset (the kernel resets a connection closed with unread bytes), as
// net/http does.
func (c *h1ServerConn) linger() {
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok {
		return
	}
	cw.CloseWrite()
	c.recv.set(c.nc, time.Now().Add(lingerTime))
	io.Copy(io.Discard, io.LimitReader(c.nc, maxDiscard))
}

const lingerTime = 500 * time.Millisecond

// run serves one request and reports whether the connection stays open.
func (c *h1ServerConn) run(ex *h1Exchange) (keep bool) {
	r, w := &ex.req, &ex.resp
	if expect := r.Header["Expect"]; len(expect) > 0 {
		if !wire.HasToken(expect[:1], "100-continue") && expect[0] != "" {
			w.header()["Connection"] = []string{"close"}
			w.WriteHeader(http.StatusExpectationFailed)
			w.finish()
			return false
		}
		ex.body.canContinue = r.ProtoMinor == 1 && r.Body != http.NoBody
	}
	c.watch.arm(r.Body == http.NoBody)
	c.woke = false
	defer func() {
		if p := recover(); p != nil {
			keep = false
			if p != http.ErrAbortHandler {
				c.srv.log.Error("handler panic", zap.Any("panic", p), zap.ByteString("stack", debug.Stack()))
			}
			c.watch.disarm()
			if w.committed {
				c.bw.Flush() // what the client already has, then the break
			}
		}
	}()
	c.srv.handler.ServeHTTP(w, r)
	if c.hijacked {
		return false
	}
	c.watch.disarm()
	keep = w.finish() && !r.Close && ex.body.drain()
	clear(c.header)
	if len(c.upHeader) > upstream.RoomMaxFields {
		c.upHeader = nil // emptying a large map costs its size
	} else {
		clear(c.upHeader)
	}
	keep = keep && c.srv.keepAlive() && c.ctx.Err() == nil
	if keep && ex.body.c == nil {
		// No body was handed to the handler, and the handler is done with
		// the request and its writer as with the header maps above: the
		// next request of the connection takes this one's memory. Cleared
		// now, so that an idle connection holds nothing of its last
		// request (the table in service then, the endpoint, the fields).
		*ex = h1Exchange{c: c}
		c.spare = ex
	}
	return keep
}

// h1Exchange is one request and its answer, in one allocation.
type h1Exchange struct {
	c    *h1ServerConn
	req  http.Request
	head int // the head's size on the wire (wireHeadSize)
	resp h1Response
	body h1ReqBody
	vals [8]string // the request's header values, when 8 are enough
	url  url.URL   // the request's URL (setRequestURL)
	hx   exchange  // the handler's record of the request (exchangeRoom)
}

// h1ReqBody is a request body framed by Content-Length or chunks. Reads
// after the handler returned fail: the connection has moved on.
type h1ReqBody struct {
	c           *h1ServerConn
	ex          *h1Exchange
	mu          sync.Mutex
	chunked     bool
	n           int64 // bytes left of a Content-Length body
	cr          io.Reader
	err         error // sticky
	done        bool
	canContinue bool // Expect: 100-continue, not yet answered
}

var errBodyAfterHandler = errors.New("http: invalid Read on closed Body")

func (b *h1ReqBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return 0, b.err
	}
	if b.canContinue {
		b.canContinue = false
		if !b.ex.resp.committed {
			b.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			if err := b.c.bw.Flush(); err != nil {
				b.err = err
				return 0, err
			}
		}
	}
	n, err := b.read(p)
	if err != nil {
		b.err = err
		if err == io.EOF {
			b.done = true
			b.c.watch.bodyDone.Store(true)
		}
	}
	return n, err
}

func (b *h1ReqBody) read(p []byte) (int, error) {
	if b.chunked {
		n, err := b.cr.Read(p)
		if err == io.EOF {
			// The trailer section (read and checked, not passed on).
			if _, terr := wire.ReadTrailers(b.c.br); terr != nil {
				return n, terr
			}
		}
		return n, err
	}
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.c.br.Read(p)
	b.n -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && b.n == 0 {
		err = io.EOF
	}
	return n, err
}

func (b *h1ReqBody) Close() error { return nil }

// drain reads away what the handler left of the body, up to maxDiscard,
// and reports whether the connection can carry another request; later
// reads fail.
func (b *h1ReqBody) drain() bool {
	if b.c == nil {
		return true // no body
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err == nil && !b.canContinue && !b.chunked && b.n <= maxDiscard {
		b.c.recv.set(b.c.nc, time.Now().Add(b.c.srv.opts.ReadHeaderTimeout))
		m, _ := b.c.br.Discard(int(b.n))
		b.n -= int64(m)
		if b.n == 0 {
			b.done = true
		}
	}
	ok := b.done
	b.err = errBodyAfterHandler
	return ok
}
