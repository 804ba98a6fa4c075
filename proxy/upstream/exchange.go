package upstream

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

	"weir.dev/weir/proxy/wire"
)

// Request is one request to an endpoint. Every value in it must have been
// checked by the caller: the client writes them as they are.
type Request struct {
	Addr   string // the endpoint, host:port
	Method string
	URI    string // the request target
	Host   string
	// Fields writes the header fields other than Host, the framing
	// (Content-Length, Transfer-Encoding) and Connection/Upgrade.
	Fields Fields
	// Body is nil for none; with ContentLength -1 it is sent chunked.
	Body          io.Reader
	ContentLength int64
	// Upgrade asks the endpoint to switch to this protocol (websocket).
	Upgrade string
	// Gone, when done, ends connection attempts to Addr that take long:
	// its endpoint left every routing table.
	Gone context.Context
	// Dialed is set by RoundTrip: the time it took to open the connection
	// that carried the request, 0 for a kept-alive one.
	Dialed time.Duration
	// Room, when set, is where RoundTrip builds its response (see Room).
	// RoundTrip takes it: Room is nil when it returns.
	Room *Room
}

// Room is memory its owner keeps for the response to one request at a
// time, so that RoundTrip allocates less: the response and its body's
// state, and up to eight header values. Header, when not nil, is the map
// the response's fields go in (RoundTrip empties it first); nil: a new
// map. The owner must be done with the response (its header map and
// values, body and trailers) before a request names the room again: one
// kept per client connection serves its requests one after another.
//
// Emptying a map does not shrink it, so an owner should drop a map that
// held more than RoomMaxFields fields rather than keep it; an interim
// head (1xx) that grew the map past that is left in it (not emptied) and
// the final response gets a new map, so the owner sees the count.
type Room struct {
	Header http.Header
	resp   http.Response
	body   body
	vals   [8]string
}

// RoomMaxFields is the most fields a Room's Header map should have held
// for its owner to keep it.
const RoomMaxFields = 32

// dropHeader stops using the owner's map for this response.
func (r *Room) dropHeader() {
	if r != nil {
		r.Header = nil
	}
}

// header returns the map a response's fields go in, empty.
func (r *Room) header() http.Header {
	if r == nil || r.Header == nil {
		return make(http.Header, 8)
	}
	clear(r.Header)
	return r.Header
}

// values returns room for a response's header values.
func (r *Room) values() []string {
	if r == nil {
		return nil
	}
	return r.vals[:0]
}

// Fields writes header lines with wire.WriteField.
type Fields interface{ WriteFields(bw *bufio.Writer) }

// Timeouts bound one exchange: Connect the dial, Send each write of the
// request (0: none), Read each read of the response.
type Timeouts struct{ Connect, Send, Read time.Duration }

// Hook is a context that can run one function when it ends, without the
// allocations of context.AfterFunc (Weir's HTTP/1.x server's connection
// context: one request at a time).
type Hook interface {
	// SetHook arranges for f to run when the context ends; false if it
	// cannot (the context has ended, or the slot is taken).
	SetHook(f func()) bool
	// ClearHook removes the hook; false if it had run (or was not set).
	ClearHook() bool
}

// watch arranges for the connection to be interrupted when ctx ends; the
// function returned detaches that, reporting whether it had not happened
// (as context.AfterFunc's stop).
func (c *conn) watch(ctx context.Context) func() bool {
	if h, ok := ctx.(Hook); ok && h.SetHook(c.interrupt) {
		c.hook = h
		return c.unhook
	}
	return context.AfterFunc(ctx, c.interrupt)
}

func (c *conn) clearHook() bool {
	h := c.hook
	c.hook = nil
	return h.ClearHook()
}

// DialError marks a failure to connect: the request never left Weir, so any
// method may be retried.
type DialError struct{ Err error }

func (e *DialError) Error() string { return "connect: " + e.Err.Error() }
func (e *DialError) Unwrap() error { return e.Err }

// ErrNoResponse marks a connection that failed before any response byte
// arrived; idempotent requests may be retried.
var ErrNoResponse = errors.New("upstream closed the connection before responding")

// RoundTrip sends req and reads the response headers. The returned
// response's Body must be read to the end or closed. For a 101 Switching
// Protocols answer the body is the raw connection (an io.ReadWriteCloser).
// When ctx ends, the exchange stops at once.
func (t *Client) RoundTrip(ctx context.Context, req *Request, to Timeouts) (*http.Response, error) {
	// Every attempt may use the room: only the one that succeeds returns
	// something that refers to it.
	room := req.Room
	req.Room = nil
	for attempt := 0; ; attempt++ {
		c, err := t.get(ctx, req.Addr, to.Connect, req.Gone)
		if err != nil {
			return nil, err
		}
		if req.Dialed = 0; !c.reused {
			req.Dialed = c.dialed
		}
		c.requests++
		// A client that goes away (or resets its HTTP/2 stream) unblocks
		// the exchange at once, so handlers never outlive their requests.
		stop := c.watch(ctx)
		resp, err := t.exchange(c, req, &to, stop, room)
		if err == nil {
			return resp, nil
		}
		stop()
		c.close()
		if ctx.Err() != nil {
			return nil, err
		}
		// A kept-alive connection the endpoint closed while idle fails
		// before any response byte: send again on a fresh connection when
		// nothing of the body can have been lost and running the request
		// twice is harmless (Idempotent). A close right after the request
		// looks the same as one that came while the connection was idle,
		// and the endpoint may have acted on the request (a POST without a
		// body); the caller's retry policy decides for the other methods.
		if c.reused && errors.Is(err, ErrNoResponse) && attempt == 0 && req.Body == nil && Idempotent(req.Method) {
			continue
		}
		return nil, err
	}
}

// Idempotent reports the methods whose effect is the same sent once or
// twice (RFC 9110 section 9.2.2): the ones RoundTrip may send again on its
// own after a kept-alive connection turned out closed, and the ones a
// caller's retry policy retries without asking for non-idempotent ones.
func Idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// maxInterim is the most informational heads (1xx) read before the final
// one: each moves the read deadline on, so an endpoint sending them for
// ever would hold the request.
const maxInterim = 8

func (t *Client) exchange(c *conn, req *Request, to *Timeouts, stop func() bool, room *Room) (*http.Response, error) {
	// early: the endpoint answered before it took the whole body.
	var early error
	if err := send(c, req, to.Send); err != nil {
		// An endpoint may answer an upload before reading all of it (413,
		// 401) and close; the write then fails while its answer waits to
		// be read. That answer is passed on (the connection closes after):
		// it is the endpoint's word, not its failure. Not after a failure
		// to read the client's body (the client's fault, answered as such),
		// nor after a write that timed out (that endpoint stopped reading
		// and may never answer).
		var be *bodyReadError
		if req.Body == nil || errors.As(err, &be) || isTimeout(err) || !c.answerWaiting() {
			return nil, sendFailed(c, req, err)
		}
		early = err
	}
	c.readTimeout = to.Read
	interim := 0 // informational answers: the endpoint has the request
	for {
		if c.rd.pending == nil { // a pending request's read arms its own (armProbe)
			c.armRead(to.Read)
		}
		if _, err := c.br.Peek(1); err != nil {
			if werr := c.rd.takeWriteErr(); werr != nil {
				return nil, sendFailed(c, req, werr) // the request was left pending and failed
			}
			if isTimeout(err) || interim > 0 {
				// Not ErrNoResponse: RoundTrip must not send it again.
				return nil, readFailed(err)
			}
			return nil, noResponse(err)
		}
		h := room.header()
		rh, err := readResponseHead(c.br, h, room.values())
		if err != nil {
			return nil, readFailed(err)
		}
		if rh.code == http.StatusSwitchingProtocols {
			if early != nil {
				return nil, sendFailed(c, req, early) // no tunnel on a request not sent whole
			}
			stop()
			c.armRead(0)
			c.noWriteDeadline()
			return &http.Response{StatusCode: rh.code, Header: h, Body: &upgradedConn{c: c}, ContentLength: -1}, nil
		}
		if rh.code < 200 {
			// 100 Continue and 103 Early Hints are not passed on. A map an
			// interim head grew is not emptied for the final one, and so
			// is left with more fields than its owner keeps (Room).
			if interim++; interim > maxInterim {
				return nil, tooManyInterim()
			}
			if len(h) > RoomMaxFields {
				room.dropHeader()
			}
			continue
		}
		if err := framing(&rh, h, req.Method); err != nil {
			return nil, err
		}
		if early != nil {
			rh.close = true // the rest of the request body was never sent
		}
		return t.response(c, req, &rh, h, to.Read, stop, room), nil
	}
}

// readFailed, noResponse and tooManyInterim are exchange's errors, in
// functions of their own (never inlined): the arguments of fmt.Errorf
// would otherwise widen exchange's frame, which every request's stack
// holds (docs/performance.md, "A request path within a stream's first
// stack").
//
//go:noinline
func readFailed(err error) error { return fmt.Errorf("read response: %w", err) }

//go:noinline
func noResponse(err error) error { return fmt.Errorf("%w: %w", ErrNoResponse, err) }

//go:noinline
func tooManyInterim() error {
	return fmt.Errorf("%w: more than %d informational responses", ErrBadResponse, maxInterim)
}

// send writes req to c. A bodiless request on a connection that can fuse
// (connReader) is not flushed: its last bytes are left pending, and the
// read of the answer writes them.
func send(c *conn, req *Request, sendTimeout time.Duration) error {
	c.tw.wake = true
	if req.Body == nil {
		// A bodiless request fits the socket buffer: no write deadline needed.
		writeRequest(c.bw, req)
		// Only the last flush is held: what an earlier one wrote (a head
		// over the buffer's size) is gone from the buffer already.
		c.tw.hold = c.rd.rc != nil
		err := c.bw.Flush()
		c.tw.hold = false
		return err
	}
	c.tw.timeout = sendTimeout
	err := writeRequest(c.bw, req)
	if err == nil {
		err = c.bw.Flush()
	}
	c.tw.timeout = 0 // the deadline stays (noWriteDeadline)
	return err
}

// sendFailed is the error of a request that could not be written whole.
func sendFailed(c *conn, req *Request, err error) error {
	if c.reused && req.Body == nil {
		return fmt.Errorf("%w: %w", ErrNoResponse, err)
	}
	return fmt.Errorf("send request: %w", err)
}

// response makes the response and its body, in one allocation.
func (t *Client) response(c *conn, req *Request, rh *respHead, h http.Header, read time.Duration, stop func() bool, room *Room) *http.Response {
	if room == nil {
		room = &Room{} // the response and its body in one allocation
	}
	resp, b := &room.resp, &room.body
	*resp = http.Response{StatusCode: rh.code, Header: h, ContentLength: rh.contentLength, Close: rh.close}
	*b = body{t: t, addr: req.Addr, c: c, r: bodyReader(c.br, rh), chunked: rh.chunked,
		keep: !rh.close, read: read, stop: stop, resp: resp}
	if b.r != nil && !rh.chunked && !rh.untilClose {
		b.lr = io.LimitedReader{R: c.br, N: rh.contentLength}
		b.r = &b.lr
	}
	if b.r == nil {
		b.finish(true)
	}
	resp.Body = b
	return resp
}

// writeRequest writes the request line, headers and body of req into bw;
// the caller flushes it.
func writeRequest(bw *bufio.Writer, req *Request) error {
	bw.WriteString(req.Method)
	bw.WriteByte(' ')
	bw.WriteString(req.URI)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(req.Host)
	bw.WriteString("\r\n")
	if req.Fields != nil {
		req.Fields.WriteFields(bw)
	}
	chunked := false
	switch {
	case req.Body == nil:
		if req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch {
			bw.WriteString("Content-Length: 0\r\n")
		}
	case req.ContentLength >= 0:
		bw.WriteString("Content-Length: ")
		var buf [20]byte
		bw.Write(strconv.AppendInt(buf[:0], req.ContentLength, 10))
		bw.WriteString("\r\n")
	default:
		chunked = true
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if req.Upgrade != "" {
		bw.WriteString("Connection: Upgrade\r\nUpgrade: ")
		bw.WriteString(req.Upgrade)
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
	if req.Body != nil {
		return writeBody(bw, req.Body, chunked)
	}
	return nil
}

var chunkBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// writeBody copies the body through a buffer of its own, larger than bw's:
// a read of the client and a write to the endpoint per 32 KiB rather than
// per 8 KiB (bw.Write sends a long slice straight once bw is empty).
func writeBody(bw *bufio.Writer, body io.Reader, chunked bool) error {
	buf := chunkBufs.Get().(*[]byte)
	defer chunkBufs.Put(buf)
	for {
		n, err := body.Read(*buf)
		if n > 0 && chunked {
			var hex [16]byte
			bw.Write(strconv.AppendInt(hex[:0], int64(n), 16))
			bw.WriteString("\r\n")
			bw.Write((*buf)[:n])
			bw.WriteString("\r\n")
		} else if n > 0 {
			bw.Write((*buf)[:n])
		}
		switch {
		case err == io.EOF && chunked:
			_, werr := bw.WriteString("0\r\n\r\n")
			return werr
		case err == io.EOF:
			_, werr := bw.WriteString("") // a write error is sticky in bw
			return werr
		case err != nil:
			return &bodyReadError{err}
		}
		if _, werr := bw.WriteString(""); werr != nil {
			return werr
		}
	}
}

// bodyReadError is a failure to read the request's body (the client's
// side), as against a failure to write it to the endpoint.
type bodyReadError struct{ err error }

func (e *bodyReadError) Error() string { return e.err.Error() }
func (e *bodyReadError) Unwrap() error { return e.err }

// body returns its connection to the pool when the response body has been
// read to the end, and closes it otherwise.
type body struct {
	t        *Client
	addr     string
	c        *conn
	r        io.Reader // framed by Content-Length, chunks, or the connection's end
	lr       io.LimitedReader
	chunked  bool
	resp     *http.Response // receives the trailers
	keep     bool
	read     time.Duration
	stop     func() bool // detaches the client-cancellation hook
	finished bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.finished {
		return 0, io.EOF
	}
	if b.c.br.Buffered() == 0 && (b.r != &b.lr || b.lr.N > 0) {
		// Only a read that may reach the socket needs a deadline (not the
		// one that finds the end of a body framed by Content-Length).
		b.c.armRead(b.read)
	}
	n, err := b.r.Read(p)
	if err == io.EOF {
		err = b.atEOF()
	}
	return n, err
}

// atEOF checks that the body ended where its framing says, reads chunked
// trailers, and releases the connection.
func (b *body) atEOF() error {
	if lr, ok := b.r.(*io.LimitedReader); ok && lr.N > 0 {
		b.finish(false)
		return io.ErrUnexpectedEOF // the endpoint closed before Content-Length bytes
	}
	if b.chunked {
		t, err := wire.ReadTrailers(b.c.br)
		if err != nil {
			b.finish(false)
			return fmt.Errorf("%w: trailers: %w", ErrBadResponse, err)
		}
		b.resp.Trailer = t
	}
	b.finish(true)
	return io.EOF
}

func (b *body) Close() error {
	b.finish(false)
	return nil
}

func (b *body) finish(atEOF bool) {
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

// upgradedConn is the body of a 101 response: reads see what the endpoint
// sent after its headers (buffered bytes first), writes go to the endpoint.
type upgradedConn struct{ c *conn }

func (u *upgradedConn) Read(p []byte) (int, error)  { return u.c.br.Read(p) }
func (u *upgradedConn) Write(p []byte) (int, error) { return u.c.nc.Write(p) }
func (u *upgradedConn) Close() error                { return u.c.nc.Close() } // buffers go to the GC: a reader may still hold them

// SetWriteDeadline bounds the tunnel's writes to the endpoint.
func (u *upgradedConn) SetWriteDeadline(t time.Time) error { return u.c.nc.SetWriteDeadline(t) }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
