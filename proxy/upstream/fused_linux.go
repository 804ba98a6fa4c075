package upstream

import (
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"weir.dev/weir/proxy/wire"
)

// fusable reports whether requests on nc may be written by the read that
// waits for their answer: plain TCP connections on Linux.
func fusable(nc net.Conn) syscall.RawConn { return wire.TCPRawConn(nc) }

// fused writes the pending request and reads the first bytes of its answer
// into p, inside one syscall.RawConn.Read. Go's poller forgets the read
// readiness it recorded when a raw read starts (internal/poll's RawRead
// prepares the read before calling the function), so waiting first and
// writing after would lose an answer that came in between; here the
// request leaves only after that reset, so every byte of the answer (and a
// reset the request provokes) is signalled while the read waits. An
// interruption (a deadline in the past, Close) ends the wait.
//
// What is lost is readiness from before the write: an end of stream the
// endpoint sent while the connection was idle, after which the request
// may provoke nothing (a lingering close: the endpoint reads and drops
// it). The wait therefore has a short deadline of its own (armProbe);
// when it passes, one read without waiting tells a silent end of stream
// (retried as today) from a slow answer, which is then awaited under the
// exchange's read timeout, counted from the write.
//
// A write that cannot take the whole request at once (the socket's buffer
// is full, EAGAIN or a short write) falls back to the connection's own
// Write for the rest, then its Read.
func (r *connReader) fused(p []byte) (int, error) {
	wire.BeforeWake() // the request is written inside the read
	start := r.c.armProbe()
	r.p, r.sent, r.n, r.sendErr, r.readErr = p, 0, 0, nil, nil
	err := r.rc.Read(r.step)
	req := r.pending
	r.pending, r.p = nil, nil
	switch {
	case r.sendErr != nil:
		r.werr = os.NewSyscallError("write", r.sendErr)
		return 0, r.werr
	case err != nil && r.sent < len(req):
		r.werr = err // stopped before the request left whole
		return 0, err
	case err != nil:
		return r.afterProbe(p, start, err)
	case r.sent < len(req):
		// The socket took part of the request or none of it: the rest the
		// usual way (without a deadline: a bodiless request fits the socket's
		// buffer, as in exchange), then the usual read.
		r.c.noWriteDeadline()
		if _, werr := r.c.nc.Write(req[r.sent:]); werr != nil {
			r.werr = werr
			return 0, werr
		}
		return r.Read(p)
	case r.readErr != nil:
		return 0, os.NewSyscallError("read", r.readErr)
	case r.n == 0:
		return 0, io.EOF
	}
	return r.n, nil
}

// probeAfter is how long a fused read waits before it checks, with a read
// that does not wait, for an end of stream it cannot have been told of;
// the check comes between probeAfter and twice that after the write.
const probeAfter = 100 * time.Millisecond

// armProbe arms the read deadline of a fused read and returns the time:
// twice probeAfter ahead, kept while at least probeAfter is left, or the
// exchange's read timeout when that is shorter.
func (c *conn) armProbe() time.Time {
	now := time.Now()
	if d := c.readTimeout; d > 0 && d < 2*probeAfter {
		c.armRead(d)
		return now
	}
	if left := c.readAt.Sub(now); c.readProbe && left >= probeAfter && left <= 2*probeAfter {
		return now
	}
	c.readProbe, c.readAt = true, now.Add(2*probeAfter)
	c.readBy(c.readAt)
	return now
}

// afterProbe follows a fused read whose wait ended with err: an
// interruption or the read timeout end the exchange; otherwise a read that
// does not wait tells an end of stream or an answer from nothing yet, and
// nothing yet is awaited under the read timeout, counted from start.
func (r *connReader) afterProbe(p []byte, start time.Time, err error) (int, error) {
	c := r.c
	if c.stopped.Load() || !isTimeout(err) {
		return 0, err
	}
	var n int
	var rerr error
	if cerr := r.rc.Control(func(fd uintptr) { n, rerr = syscall.Read(int(fd), p) }); cerr != nil {
		return 0, cerr
	}
	switch {
	case rerr == syscall.EAGAIN || rerr == syscall.EINTR:
	case rerr != nil:
		return 0, os.NewSyscallError("read", rerr)
	case n == 0:
		return 0, io.EOF
	default:
		return n, nil
	}
	d := c.readTimeout
	if !c.readProbe || (d > 0 && !time.Now().Before(start.Add(d))) {
		return 0, err // the deadline was the read timeout's, or it has passed
	}
	c.readProbe, c.readAt = false, time.Time{}
	if d > 0 {
		c.readAt = start.Add(d + wire.DeadlineSlack(d)) // counted from start, as armRead's from now
	}
	c.readBy(c.readAt)
	return c.nc.Read(p)
}

// stepFused is the function RawConn.Read calls: first the write, then,
// each time the socket may be readable, a read. false means "wait for
// readability" (the answer is not there yet, or the wake-up was spurious).
func (r *connReader) stepFused(fd uintptr) bool {
	if r.sent < len(r.pending) {
		n, err := syscall.Write(int(fd), r.pending)
		for err == syscall.EINTR {
			n, err = syscall.Write(int(fd), r.pending)
		}
		switch {
		case err == syscall.EAGAIN:
			return true // fused finishes the write the usual way
		case err != nil:
			r.sendErr = err
			return true
		}
		r.sent = n
		return n < len(r.pending) // short: fused finishes it; whole: wait for the answer
	}
	n, err := syscall.Read(int(fd), r.p)
	for err == syscall.EINTR {
		n, err = syscall.Read(int(fd), r.p)
	}
	if err == syscall.EAGAIN {
		return false
	}
	r.n, r.readErr = max(n, 0), err
	return true
}
