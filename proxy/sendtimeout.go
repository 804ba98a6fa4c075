package proxy

import (
	"net"
	"sync/atomic"
	"time"

	"weir.dev/weir/proxy/wire"
)

// defaultSendTimeout bounds how long a write to a client may make no
// progress (ServerOptions.SendTimeout): a client that stops reading its
// answer (a slow-read attack, or a peer that vanished without a reset)
// loses the connection after it, as with nginx's send_timeout (60 s),
// instead of holding a goroutine, buffers and an endpoint connection for
// ever.
const defaultSendTimeout = 60 * time.Second

// sendDeadline is a connection's write deadline as last set by refresh.
type sendDeadline struct {
	at     time.Time
	pinned bool // set by pin: refresh leaves the deadline alone
}

// refresh moves nc's write deadline on by the coarse rule of
// wire.NextDeadline: a busy connection moves it at most once per slack (a
// sixteenth of timeout, at most a second), and a write that makes no
// progress fails after between timeout and timeout plus the slack, never
// before. Call it before each write.
func (d *sendDeadline) refresh(nc net.Conn, timeout time.Duration) error {
	if d.pinned || timeout <= 0 {
		return nil // pinned, or no send timeout: the deadline stays as it is
	}
	at, move := wire.NextDeadline(d.at, time.Now(), timeout)
	if !move {
		return nil
	}
	d.at = at
	return nc.SetWriteDeadline(at)
}

// pin sets nc's write deadline to t for good (the last answer on a
// connection about to close has its own bound).
func (d *sendDeadline) pin(nc net.Conn, t time.Time) {
	d.at, d.pinned = t, true
	nc.SetWriteDeadline(t)
}

// h1Sender is what an HTTP/1.x connection's writer writes to: the client
// connection, each write under the send timeout. A hijacked connection
// (a tunnel) keeps the deadlines its new owner sets.
type h1Sender struct{ c *h1ServerConn }

func (s h1Sender) Write(p []byte) (int, error) {
	c := s.c
	if !c.woke {
		c.woke = true
		wire.BeforeWake()
	}
	if !c.hijacked {
		if err := c.send.refresh(c.nc, c.srv.opts.SendTimeout); err != nil {
			return 0, err
		}
	}
	return c.nc.Write(p)
}

// recvDeadline is a client connection's read deadline as its serving
// goroutine last set it, so that the keep-alive wait need not move it on
// every request: between requests on a busy connection it is moved at most
// once per slack (wire.NextDeadline), and it falls between the timeout and
// the timeout plus slack (at most a second) after the request before. Other
// goroutines that set the read deadline (the client-gone watch, a
// transport reading the request body) mark it stale, and the next
// extend sets it again.
type recvDeadline struct {
	at    time.Time
	stale atomic.Bool
}

// set sets nc's read deadline to t; only the serving goroutine calls it.
func (d *recvDeadline) set(nc net.Conn, t time.Time) {
	d.stale.Store(false) // before: a concurrent setter's mark comes after
	d.at = t
	nc.SetReadDeadline(t)
}

// extend makes nc's read deadline timeout from now, or up to the slack of
// wire.NextDeadline later than that; only the serving goroutine calls it.
func (d *recvDeadline) extend(nc net.Conn, timeout time.Duration) {
	d.extendWithin(nc, timeout, wire.DeadlineSlack(timeout))
}

// extendWithin is extend with the slack given.
func (d *recvDeadline) extendWithin(nc net.Conn, timeout, slack time.Duration) {
	at, move := wire.NextDeadlineWithin(d.at, time.Now(), timeout, slack)
	if move || d.stale.Load() {
		d.set(nc, at)
	}
}

// setElsewhere sets nc's read deadline from another goroutine than the
// serving one.
func (d *recvDeadline) setElsewhere(nc net.Conn, t time.Time) error {
	err := nc.SetReadDeadline(t)
	d.stale.Store(true)
	return err
}
