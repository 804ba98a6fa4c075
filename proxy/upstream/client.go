// Package upstream is Weir's HTTP/1.1 client for endpoints: requests in
// clear text over pooled keep-alive connections, each exchange run on the
// calling goroutine (no read and write loops per connection, no channel
// hand-offs as in http.Transport), a response parser as strict as
// net/http's or stricter, and the request written in one system call when
// it has no body. Pools are per endpoint address; there is no lock shared
// between endpoints.
package upstream

import (
	"bufio"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"weir.dev/weir/proxy/wire"
)

// Options configure a Client. Zero values take the defaults given.
type Options struct {
	// MaxIdle bounds the idle connections kept per endpoint (default 320).
	// Connections over the bound are closed once they have been idle for
	// OverLimitIdle, the least recently used first, so that a load whose
	// requests in flight swing above and below the bound does not close
	// connections on every swing only to dial them again on the next.
	MaxIdle int
	// OverLimitIdle is how long a connection over MaxIdle may stay idle
	// (default 1 s). The endpoint never holds more connections than were
	// in use at once within that time.
	OverLimitIdle time.Duration
	// IdleTimeout closes connections idle longer (default 30 s), whether or
	// not more requests come.
	IdleTimeout time.Duration
	// MaxRequests closes a connection after it carried this many requests
	// (ingress-nginx's upstream-keepalive-requests; default 10000, -1 for
	// no limit), so that memory an endpoint keeps per connection is freed
	// now and then and new endpoints of a Service behind one address (a
	// ClusterIP) get their share.
	MaxRequests int
	// IdleCheck: a connection that cannot be peeked without an allocation
	// (not plain TCP on Linux) is probed for a close or stray bytes by the
	// endpoint before it is reused once it idled longer than this (default
	// 100 ms); plain TCP connections on Linux are peeked before every reuse
	// (quietSinceUse).
	IdleCheck time.Duration
	// Dial opens connections (default: a net.Dialer with 30 s TCP
	// keep-alive).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Client sends requests to endpoints over HTTP/1.1.
type Client struct {
	opts  Options
	pools sync.Map // address -> *pool
}

// New returns a Client with opts.
func New(opts Options) *Client {
	if opts.MaxIdle <= 0 {
		opts.MaxIdle = 320
	}
	if opts.OverLimitIdle <= 0 {
		opts.OverLimitIdle = time.Second
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Second
	}
	if opts.MaxRequests == 0 {
		opts.MaxRequests = 10000
	}
	if opts.IdleCheck <= 0 {
		opts.IdleCheck = 100 * time.Millisecond
	}
	if opts.Dial == nil {
		d := &net.Dialer{KeepAlive: 30 * time.Second}
		opts.Dial = d.DialContext
	}
	return &Client{opts: opts}
}

type pool struct {
	opts *Options
	mu   sync.Mutex
	idle []*conn // least recently used first: idleSince never decreases
	// sweeper runs sweep at due (zero: not armed), when the oldest idle
	// connection is over IdleTimeout or, with more than MaxIdle idle, over
	// OverLimitIdle.
	sweeper *time.Timer
	due     time.Time
	retired bool // drained and removed from the client (drain)
}

type conn struct {
	nc        net.Conn
	tw        timedWriter // bw writes through it
	rd        connReader  // br reads through it
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
	reused    bool
	requests  int           // carried so far, this one included
	dialed    time.Duration // time the dial took (metrics)
	// interrupt unblocks the connection's reads and writes; made once per
	// connection, so that hooking it to each request's context costs no
	// closure. unhook (clearHook) detaches it from hook, the context of
	// the request under way when that is a Hook.
	interrupt func()
	unhook    func() bool
	hook      Hook
	// stopped is set by interrupt: a deadline set after must not undo its
	// deadline in the past (readBy, writeBy).
	stopped atomic.Bool
	// readAt and writeAt are the deadlines last set by armRead, armProbe
	// and writeWithin (zero: none); readProbe: readAt is armProbe's.
	readAt, writeAt time.Time
	readProbe       bool
	readTimeout     time.Duration // of the exchange under way
	// fd is the descriptor of a fusable connection (-1: none), for the
	// peek before each reuse (quietSinceUse): the connection is then idle
	// and the pool's alone, so no close can race the peek.
	fd int
}

// timedWriter gives each write to the endpoint its own deadline: nginx's
// proxy_send_timeout is the time between two successive writes, so an
// upload that keeps moving is never cut, however long it takes.
type timedWriter struct {
	c       *conn
	timeout time.Duration // 0: no deadline
	// hold: the next write is not made but left pending for the read of
	// the answer (connReader), which makes it.
	hold bool
	// wake: the next write is the request's first (send): it goes through
	// wire.BeforeWake; the body's later writes do not yield.
	wake bool
}

func (w *timedWriter) Write(p []byte) (int, error) {
	if w.hold {
		w.hold, w.wake = false, false // the fused read yields itself
		w.c.rd.pending = p
		return len(p), nil
	}
	if w.wake {
		w.wake = false
		wire.BeforeWake()
	}
	if w.timeout > 0 {
		w.c.writeWithin(w.timeout)
	} else {
		w.c.noWriteDeadline()
	}
	return w.c.nc.Write(p)
}

// readBy and writeBy set a deadline, unless the exchange has been
// interrupted: then the interruption's deadline in the past stays, even
// when it came just before.
func (c *conn) readBy(t time.Time) {
	c.nc.SetReadDeadline(t)
	if c.stopped.Load() {
		c.nc.SetReadDeadline(time.Unix(1, 0))
	}
}

func (c *conn) writeBy(t time.Time) {
	c.nc.SetWriteDeadline(t)
	if c.stopped.Load() {
		c.nc.SetWriteDeadline(time.Unix(1, 0))
	}
}

// armRead arms the read deadline for a read that may wait d (0: no
// limit), by the coarse rule of wire.NextDeadline: a busy connection sets
// it about once per slack (a sixteenth of d, at most a second) instead of
// once per read, and a read that gets nothing fails after between d and d
// plus the slack: never before its timeout.
func (c *conn) armRead(d time.Duration) {
	if d <= 0 {
		if c.readProbe || !c.readAt.IsZero() {
			c.readProbe, c.readAt = false, time.Time{}
			c.readBy(time.Time{})
		}
		return
	}
	at, move := wire.NextDeadline(c.readAt, time.Now(), d)
	if !move && !c.readProbe {
		return
	}
	c.readProbe, c.readAt = false, at
	c.readBy(at)
}

// noWriteDeadline removes the write deadline that an earlier exchange's
// body left (writeWithin's are not taken back after the body: a bodiless
// request's fused write ignores them, and the next write that does not
// comes here first).
func (c *conn) noWriteDeadline() {
	if !c.writeAt.IsZero() {
		c.writeAt = time.Time{}
		c.writeBy(time.Time{})
	}
}

// writeWithin is armRead for writes (proxy-send-timeout), d > 0.
func (c *conn) writeWithin(d time.Duration) {
	if at, move := wire.NextDeadline(c.writeAt, time.Now(), d); move {
		c.writeAt = at
		c.writeBy(at)
	}
}

var (
	readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}
	writerPool = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 8<<10) }}
)

func (t *Client) pool(addr string) *pool {
	if p, ok := t.pools.Load(addr); ok {
		return p.(*pool)
	}
	p, _ := t.pools.LoadOrStore(addr, &pool{opts: &t.opts})
	return p.(*pool)
}

// armLocked makes sure the sweeper runs when the least recently used idle
// connection is due to be closed. Under load it is already armed for that
// or earlier, and this is two comparisons.
func (p *pool) armLocked() {
	if len(p.idle) == 0 {
		return
	}
	oldest := p.idle[0].idleSince
	due := oldest.Add(p.opts.IdleTimeout)
	if len(p.idle) > p.opts.MaxIdle {
		due = oldest.Add(min(p.opts.OverLimitIdle, p.opts.IdleTimeout))
	}
	if !p.due.IsZero() && !due.Before(p.due) {
		return
	}
	p.due = due
	if p.sweeper == nil {
		p.sweeper = time.AfterFunc(time.Until(due), p.sweep)
	} else {
		p.sweeper.Reset(time.Until(due))
	}
}

// sweep closes the idle connections that are due: idle for IdleTimeout,
// or for OverLimitIdle while more than MaxIdle are idle, least recently
// used first.
func (p *pool) sweep() {
	now := time.Now()
	p.mu.Lock()
	n := 0
	for ; n < len(p.idle); n++ {
		idle := now.Sub(p.idle[n].idleSince)
		if idle < p.opts.IdleTimeout && (len(p.idle)-n <= p.opts.MaxIdle || idle < p.opts.OverLimitIdle) {
			break
		}
	}
	var closing []*conn
	if n > 0 {
		closing = make([]*conn, n)
		copy(closing, p.idle)
		left := copy(p.idle, p.idle[n:])
		clear(p.idle[left:])
		p.idle = p.idle[:left]
	}
	p.due = time.Time{}
	p.armLocked()
	p.mu.Unlock()
	for _, c := range closing {
		c.close()
	}
}

// get returns an idle connection to addr that has not idled too long, or
// dials a new one within the connect timeout.
func (t *Client) get(ctx context.Context, addr string, connect time.Duration, gone context.Context) (*conn, error) {
	p := t.pool(addr)
	now := time.Now()
	p.mu.Lock()
	for len(p.idle) > 0 {
		c := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if idle := now.Sub(c.idleSince); idle < t.opts.IdleTimeout {
			p.mu.Unlock()
			if !c.quietSinceUse(idle > t.opts.IdleCheck) {
				c.close()
				p.mu.Lock()
				continue
			}
			c.reused = true
			c.acquire()
			return c, nil
		}
		c.close()
	}
	p.mu.Unlock()
	return t.connect(ctx, addr, connect, gone)
}

// answerWaiting reports whether bytes from the endpoint wait to be read
// (buffered, or on the descriptor of a fusable connection), without
// waiting for any.
func (c *conn) answerWaiting() bool {
	return c.br.Buffered() > 0 || c.fd >= 0 && bytesWaiting(c.fd)
}

// quietSinceUse reports whether an idle connection has received nothing
// since its last answer, so that it may carry a request. Anything else
// closes it: an end of stream (many servers close keep-alive connections
// after a few seconds: Node.js after 5 s), so that it never carries a
// request, above all one whose body could not be sent again; and bytes no
// request asked for (an endpoint that writes an answer twice, or a body
// longer than its Content-Length in a later segment), which would be read
// as the next request's answer: one client's response, cookies included,
// given to another. A fusable connection is peeked before every reuse
// (one system call that does not wait, on its descriptor); the others,
// whose peek allocates, only once idle longer than IdleCheck (long).
// nginx learns the same from its event loop: a read event on a cached
// connection closes it.
func (c *conn) quietSinceUse(long bool) bool {
	if c.fd >= 0 {
		return quietFD(c.fd)
	}
	return !long || !peerClosed(c.nc)
}

func (t *Client) connect(ctx context.Context, addr string, connect time.Duration, gone context.Context) (*conn, error) {
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
	t0 := time.Now()
	nc, err := t.opts.Dial(dctx, "tcp", addr)
	if err != nil {
		return nil, &DialError{Err: err}
	}
	c := &conn{nc: nc, dialed: time.Since(t0), fd: -1}
	c.tw.c = c
	c.rd.c = c
	if c.rd.rc = fusable(nc); c.rd.rc != nil {
		c.rd.step = c.rd.stepFused
		c.rd.rc.Control(func(fd uintptr) { c.fd = int(fd) })
	}
	c.interrupt = func() {
		c.stopped.Store(true)
		nc.SetDeadline(time.Unix(1, 0))
	}
	c.unhook = c.clearHook
	c.acquire()
	return c, nil
}

// put returns a connection for reuse, or closes it when it has carried its
// share of requests. Idle connections over MaxIdle are closed by the
// pool's sweep once they have idled OverLimitIdle.
func (t *Client) put(addr string, c *conn) {
	if t.opts.MaxRequests > 0 && c.requests >= t.opts.MaxRequests {
		c.close()
		return
	}
	c.release()
	v, ok := t.pools.Load(addr) // get made it; gone: the endpoint left (CloseAddr)
	if !ok {
		c.close()
		return
	}
	p := v.(*pool)
	now := time.Now()
	p.mu.Lock()
	if p.retired {
		p.mu.Unlock()
		c.close()
		return
	}
	if n := len(p.idle); n > 0 && now.Before(p.idle[n-1].idleSince) {
		now = p.idle[n-1].idleSince // a put that raced ahead: keep the order
	}
	c.idleSince = now
	p.idle = append(p.idle, c)
	p.armLocked()
	p.mu.Unlock()
}

// CloseIdle closes idle connections to addresses not in keep, and all of
// them when keep is nil.
func (t *Client) CloseIdle(keep map[string]bool) {
	t.pools.Range(func(k, v any) bool {
		if keep != nil && keep[k.(string)] {
			return true
		}
		v.(*pool).drain(keep != nil)
		if keep != nil {
			t.pools.Delete(k)
		}
		return true
	})
}

// CloseAddr closes the idle connections to addr, an endpoint that left.
func (t *Client) CloseAddr(addr string) {
	if v, ok := t.pools.LoadAndDelete(addr); ok {
		v.(*pool).drain(true)
	}
}

// drain closes the pool's idle connections; retire: the pool leaves the
// client, and connections returned to it later are closed, not kept.
func (p *pool) drain(retire bool) {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.retired = p.retired || retire
	if p.sweeper != nil {
		p.sweeper.Stop()
	}
	p.due = time.Time{}
	p.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}

// acquire gives a connection that is about to carry a request its
// buffers; release returns them (empty) when it goes idle. Idle connections
// hold no buffer, and the ones in use come from the pools most recently
// used, still in the CPU's cache, whichever connection carries the request:
// with hundreds of connections, buffers of their own would each be cold.
func (c *conn) acquire() {
	c.br = readerPool.Get().(*bufio.Reader)
	c.br.Reset(&c.rd)
	c.bw = writerPool.Get().(*bufio.Writer)
	c.bw.Reset(&c.tw)
}

func (c *conn) release() {
	if c.br != nil {
		c.br.Reset(nil)
		readerPool.Put(c.br)
		c.bw.Reset(nil)
		writerPool.Put(c.bw)
		c.br, c.bw = nil, nil
	}
	c.rd.pending = nil
}

func (c *conn) close() {
	c.nc.Close()
	c.release()
}

// slowDial is how long a connection attempt to a removed endpoint may take.
const slowDial = 250 * time.Millisecond
