package proxy

import (
	"net"
	"sync/atomic"
	"time"
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

// refresh moves nc's write deadline to timeout from now, unless it is
// already nearly that far ahead: it is moved only when less than five
// sixths of timeout are left, so a busy connection changes it at most once
// per sixth, and a write that makes no progress fails after between five
// sixths of timeout and timeout. Call it before each write.
func (d *sendDeadline) refresh(nc net.Conn, timeout time.Duration) error {
	if d.pinned || timeout <= 0 {
		return nil // pinned, or no send timeout: the deadline stays as it is
	}
	now := time.Now()
	if d.at.Sub(now) > timeout-timeout/6 {
		return nil
	}
	d.at = now.Add(timeout)
	return nc.SetWriteDeadline(d.at)
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
// once per slack (recvSlack), and it falls between the timeout and the
// timeout plus slack (at most a second) after the request before. Other
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

// extend makes nc's read deadline timeout from now, or up to recvSlack
// later than that; only the serving goroutine calls it.
func (d *recvDeadline) extend(nc net.Conn, timeout time.Duration) {
	want := time.Now().Add(timeout)
	slack := recvSlack(timeout)
	if !d.stale.Load() && !d.at.Before(want) && d.at.Sub(want) <= slack {
		return
	}
	d.set(nc, want.Add(slack))
}

// recvSlack is how much later than asked a read deadline may fall: a
// sixteenth of the timeout, at most a second.
func recvSlack(timeout time.Duration) time.Duration { return min(timeout/16, time.Second) }

// setElsewhere sets nc's read deadline from another goroutine than the
// serving one.
func (d *recvDeadline) setElsewhere(nc net.Conn, t time.Time) error {
	err := nc.SetReadDeadline(t)
	d.stale.Store(true)
	return err
}
