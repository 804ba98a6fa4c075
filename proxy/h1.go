package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// h1Transport speaks HTTP/1.1 in clear text to endpoints over pooled
// keep-alive connections. Unlike http.Transport it runs each exchange on the calling
// goroutine (no read and write loops per connection, no channel hand-offs),
// which is most of the CPU a proxied request costs. Pools are per endpoint
// address; there is no lock shared between endpoints.
type h1Transport struct {
	dialer net.Dialer
	// dial opens connections (dialer.DialContext; tests replace it).
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	maxIdle     int
	idleTimeout time.Duration
	// idleCheck: a connection idle longer than this is probed for a close
	// by the endpoint before it is reused (idleCheckDefault). Under load
	// connections come back within milliseconds: no probe, no system call.
	idleCheck time.Duration
	pools     sync.Map // address -> *h1Pool
}

type h1Pool struct {
	mu   sync.Mutex
	idle []*h1Conn // most recently used last
}

type h1Conn struct {
	conn      net.Conn
	tw        timedWriter // bw writes through it
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
	reused    bool
	dialed    time.Duration // time the dial took (metrics)
	// interrupt unblocks the connection's reads and writes; made once per
	// connection, so that hooking it to each request's context costs no
	// closure.
	interrupt func()
}

// timedWriter gives each write to the endpoint its own deadline: nginx's
// proxy_send_timeout is the time between two successive writes, so an
// upload that keeps moving is never cut, however long it takes.
type timedWriter struct {
	conn    net.Conn
	timeout time.Duration // 0: no deadline
}

func (w *timedWriter) Write(p []byte) (int, error) {
	if w.timeout > 0 {
		w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
	}
	return w.conn.Write(p)
}

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 8<<10) }}
)

func (t *h1Transport) pool(addr string) *h1Pool {
	if p, ok := t.pools.Load(addr); ok {
		return p.(*h1Pool)
	}
	p, _ := t.pools.LoadOrStore(addr, &h1Pool{})
	return p.(*h1Pool)
}

// get returns an idle connection to addr that has not idled too long, or
// dials a new one within the connect timeout.
func (t *h1Transport) get(ctx context.Context, addr string, connect time.Duration, gone context.Context) (*h1Conn, error) {
	p := t.pool(addr)
	now := time.Now()
	p.mu.Lock()
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if idle := now.Sub(c.idleSince); idle < t.idleTimeout {
			p.mu.Unlock()
			if idle > t.idleCheck && closedByPeer(c) {
				c.close()
				p.mu.Lock()
				continue
			}
			c.reused = true
			return c, nil
		}
		c.close()
	}
	p.mu.Unlock()
	return t.connect(ctx, addr, connect, gone)
}

// closedByPeer reports whether the endpoint closed an idle connection (many
// servers close keep-alive connections after a few seconds: Node.js after
// 5 s), so that it never carries a request, above all one whose body could
// not be sent again.
func closedByPeer(c *h1Conn) bool {
	if c.br.Buffered() > 0 {
		return true // a stray byte on an idle connection: not reusable
	}
	return peerClosed(c.conn)
}

func (t *h1Transport) connect(ctx context.Context, addr string, connect time.Duration, gone context.Context) (*h1Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, connect)
	defer cancel()
	if gone != nil {
		// Once the endpoint has left every table, a connection attempt that
		// is still not through after slowDial is to a Pod that went away:
		// give up on it, so that the request is retried elsewhere. Attempts
		// that are merely in flight at a table swap finish as usual.
		start := time.Now()
		defer context.AfterFunc(gone, func() { time.AfterFunc(max(slowDial-time.Since(start), 0), cancel) })()
	}
	dial := t.dial
	if dial == nil {
		dial = t.dialer.DialContext
	}
	t0 := time.Now()
	nc, err := dial(dctx, "tcp", addr)
	if err != nil {
		return nil, &dialError{err}
	}
	c := &h1Conn{conn: nc, tw: timedWriter{conn: nc}, dialed: time.Since(t0)}
	c.interrupt = func() { nc.SetDeadline(time.Unix(1, 0)) }
	c.br = readerPool.Get().(*bufio.Reader)
	c.br.Reset(nc)
	c.bw = writerPool.Get().(*bufio.Writer)
	c.bw.Reset(&c.tw)
	return c, nil
}

// put returns a connection for reuse, or closes it when the pool is full.
func (t *h1Transport) put(addr string, c *h1Conn) {
	c.idleSince = time.Now()
	p := t.pool(addr)
	p.mu.Lock()
	if len(p.idle) < t.maxIdle {
		p.idle = append(p.idle, c)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	c.close()
}

// closeIdle closes idle connections to addresses not in keep, and all of
// them when keep is nil.
func (t *h1Transport) closeIdle(keep map[string]bool) {
	t.pools.Range(func(k, v any) bool {
		if keep != nil && keep[k.(string)] {
			return true
		}
		v.(*h1Pool).drain()
		if keep != nil {
			t.pools.Delete(k)
		}
		return true
	})
}

// closeAddr closes the idle connections to addr, an endpoint that left.
func (t *h1Transport) closeAddr(addr string) {
	if v, ok := t.pools.LoadAndDelete(addr); ok {
		v.(*h1Pool).drain()
	}
}

// drain closes the pool's idle connections.
func (p *h1Pool) drain() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}

func (c *h1Conn) close() {
	c.conn.Close()
	if c.br != nil {
		c.br.Reset(nil)
		readerPool.Put(c.br)
		c.bw.Reset(nil)
		writerPool.Put(c.bw)
		c.br, c.bw = nil, nil
	}
}

// idleCheckDefault is short beside any endpoint's keep-alive timeout
// (nginx 75 s, Node.js 5 s), and long beside the gap between two requests
// on a busy connection.
const idleCheckDefault = 100 * time.Millisecond

// slowDial is how long a connection attempt to a removed endpoint may take.
const slowDial = 250 * time.Millisecond

// dialError marks a failure to connect: the request never left Weir, so any
// method may be retried.
type dialError struct{ err error }

func (e *dialError) Error() string { return "connect: " + e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// errNoResponse marks a connection that failed before any response byte
// arrived; idempotent requests may be retried.
var errNoResponse = errors.New("upstream closed the connection before responding")

// writeRequest writes the request line, headers and body of out.
func writeRequest(bw *bufio.Writer, out *outgoing) error {
	bw.WriteString(out.method)
	bw.WriteByte(' ')
	bw.WriteString(out.uri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(out.host)
	bw.WriteString("\r\n")
	if out.header != nil {
		for k, vs := range out.header {
			for _, v := range vs {
				writeHeaderLine(bw, k, v)
			}
		}
	} else {
		conn := out.req.Header["Connection"]
		for k, vs := range out.req.Header {
			if out.skipHeader(k, conn) {
				continue
			}
			for _, v := range vs {
				writeHeaderLine(bw, k, v)
			}
		}
		kv, n := out.forwarded()
		for _, p := range kv[:n] {
			writeHeaderLine(bw, p[0], p[1])
		}
	}
	chunked := false
	switch {
	case out.body == nil:
		if out.method == http.MethodPost || out.method == http.MethodPut || out.method == http.MethodPatch {
			bw.WriteString("Content-Length: 0\r\n")
		}
	case out.contentLength >= 0:
		bw.WriteString("Content-Length: ")
		var buf [20]byte
		bw.Write(strconv.AppendInt(buf[:0], out.contentLength, 10))
		bw.WriteString("\r\n")
	default:
		chunked = true
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if out.upgrade != "" {
		bw.WriteString("Connection: Upgrade\r\nUpgrade: ")
		bw.WriteString(out.upgrade)
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
	if out.body != nil {
		if err := writeBody(bw, out.body, chunked); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func writeHeaderLine(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(v)
	bw.WriteString("\r\n")
}

func writeBody(bw *bufio.Writer, body io.Reader, chunked bool) error {
	if !chunked {
		_, err := io.Copy(bw, body)
		return err
	}
	buf := getBuffer()
	defer putBuffer(buf)
	for {
		n, err := body.Read(*buf)
		if n > 0 {
			fmt.Fprintf(bw, "%x\r\n", n)
			bw.Write((*buf)[:n])
			bw.WriteString("\r\n")
		}
		if err == io.EOF {
			_, werr := bw.WriteString("0\r\n\r\n")
			return werr
		}
		if err != nil {
			return err
		}
	}
}

// h1Body returns its connection to the pool when the response body has been
// read to the end, and closes it otherwise.
type h1Body struct {
	t        *h1Transport
	addr     string
	c        *h1Conn
	r        io.Reader // framed by Content-Length, chunks, or the connection's end
	lr       io.LimitedReader
	chunked  bool
	resp     *http.Response // receives the trailers
	keep     bool
	read     time.Duration
	stop     func() bool // detaches the client-cancellation hook
	finished bool
}

func (b *h1Body) Read(p []byte) (int, error) {
	if b.finished {
		return 0, io.EOF
	}
	if b.read > 0 && b.c.br.Buffered() == 0 {
		// Only a read that may reach the socket needs a fresh deadline.
		b.c.conn.SetReadDeadline(time.Now().Add(b.read))
	}
	n, err := b.r.Read(p)
	if err == io.EOF {
		err = b.atEOF()
	}
	return n, err
}

// atEOF checks that the body ended where its framing says, reads chunked
// trailers, and releases the connection.
func (b *h1Body) atEOF() error {
	if lr, ok := b.r.(*io.LimitedReader); ok && lr.N > 0 {
		b.finish(false)
		return io.ErrUnexpectedEOF // the endpoint closed before Content-Length bytes
	}
	if b.chunked {
		t, err := readTrailers(b.c.br)
		if err != nil {
			b.finish(false)
			return err
		}
		b.resp.Trailer = t
	}
	b.finish(true)
	return io.EOF
}

func (b *h1Body) Close() error {
	b.finish(false)
	return nil
}

func (b *h1Body) finish(atEOF bool) {
	if b.finished {
		return
	}
	b.finished = true
	detached := b.stop()
	if atEOF && detached && b.keep && b.c.br.Buffered() == 0 {
		// The read deadline left on the connection is replaced before its
		// next read; the write side has none.
		b.t.put(b.addr, b.c)
		return
	}
	b.c.close()
}

// roundTrip sends out to addr and reads the response headers. The returned
// response's Body must be read to the end or closed. For a 101 Switching
// Protocols answer the body is the raw connection (an io.ReadWriteCloser).
func (t *h1Transport) roundTrip(ctx context.Context, addr string, out *outgoing, to *timeouts) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		c, err := t.get(ctx, addr, to.connect, out.gone)
		if err != nil {
			return nil, err
		}
		if out.dialed = 0; !c.reused {
			out.dialed = c.dialed
		}
		// A client that goes away (or resets its HTTP/2 stream) unblocks
		// the exchange at once, so handlers never outlive their requests.
		stop := context.AfterFunc(ctx, c.interrupt)
		resp, err := t.exchange(c, out, to, stop)
		if err == nil {
			return resp, nil
		}
		stop()
		c.close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w: %w", errClientGone, err)
		}
		// A kept-alive connection the endpoint closed while idle fails
		// before any response byte: send again on a fresh connection when
		// nothing of the body can have been lost.
		if c.reused && errors.Is(err, errNoResponse) && attempt == 0 && out.replayable() {
			continue
		}
		return nil, err
	}
}

func (t *h1Transport) exchange(c *h1Conn, out *outgoing, to *timeouts, stop func() bool) (*http.Response, error) {
	// A bodiless request fits the socket buffer: no write deadline needed.
	if out.body != nil {
		c.tw.timeout = to.send
	}
	err := writeRequest(c.bw, out)
	if c.tw.timeout > 0 {
		c.tw.timeout = 0
		c.conn.SetWriteDeadline(time.Time{})
	}
	if err != nil {
		if c.reused && out.body == nil {
			return nil, fmt.Errorf("%w: %w", errNoResponse, err)
		}
		return nil, fmt.Errorf("send request: %w", err)
	}
	for {
		if to.read > 0 {
			c.conn.SetReadDeadline(time.Now().Add(to.read))
		}
		if _, err := c.br.Peek(1); err != nil {
			if isTimeout(err) {
				return nil, fmt.Errorf("read response: %w", err)
			}
			return nil, fmt.Errorf("%w: %w", errNoResponse, err)
		}
		h := make(http.Header, 8)
		rh, err := readResponseHead(c.br, h)
		if err != nil {
			return nil, fmt.Errorf("read response: %w", err)
		}
		if rh.code == http.StatusSwitchingProtocols {
			stop()
			c.conn.SetReadDeadline(time.Time{})
			return &http.Response{StatusCode: rh.code, Header: h, Body: &upgradedConn{c: c}, ContentLength: -1}, nil
		}
		if rh.code < 200 {
			continue // 100 Continue and 103 Early Hints are not passed on
		}
		if err := framing(&rh, h, out.method); err != nil {
			return nil, err
		}
		// The response and its body in one allocation.
		rb := &struct {
			resp http.Response
			body h1Body
		}{}
		resp, body := &rb.resp, &rb.body
		*resp = http.Response{StatusCode: rh.code, Header: h, ContentLength: rh.contentLength, Close: rh.close}
		*body = h1Body{t: t, addr: out.addr, c: c, r: bodyReader(c.br, &rh), chunked: rh.chunked,
			keep: !rh.close && !out.close, read: to.read, stop: stop, resp: resp}
		if body.r != nil && !rh.chunked && !rh.untilClose {
			body.lr = io.LimitedReader{R: c.br, N: rh.contentLength}
			body.r = &body.lr
		}
		if body.r == nil {
			body.finish(true)
		}
		resp.Body = body
		return resp, nil
	}
}

// upgradedConn is the body of a 101 response: reads see what the endpoint
// sent after its headers (buffered bytes first), writes go to the endpoint.
type upgradedConn struct{ c *h1Conn }

func (u *upgradedConn) Read(p []byte) (int, error)  { return u.c.br.Read(p) }
func (u *upgradedConn) Write(p []byte) (int, error) { return u.c.conn.Write(p) }
func (u *upgradedConn) Close() error                { return u.c.conn.Close() } // buffers go to the GC: a reader may still hold them

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
