package upstream

import (
	"io"
	"net"
	"os"
	"syscall"
)

// fusable reports whether requests on nc may be written by the read that
// waits for their answer: plain TCP connections on Linux.
func fusable(nc net.Conn) syscall.RawConn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// fused writes the pending request and reads the first bytes of its answer
// into p, inside one syscall.RawConn.Read. Go's poller forgets the read
// readiness it recorded when a raw read starts (internal/poll's RawRead
// prepares the read before calling the function), so waiting first and
// writing before would lose an answer that came in between; here the
// request leaves only after that reset, so every byte of the answer (and a
// reset the request provokes) is signalled while the read waits. The wait
// honours the read deadline, and an interruption (a deadline in the past,
// Close) ends it.
//
// A write that cannot take the whole request at once (the socket's buffer
// is full, EAGAIN or a short write) falls back to the connection's own
// Write for the rest, then its Read.
func (r *connReader) fused(p []byte) (int, error) {
	r.p, r.sent, r.n, r.sendErr, r.readErr = p, 0, 0, nil, nil
	err := r.rc.Read(r.step)
	req := r.pending
	r.pending, r.p = nil, nil
	switch {
	case r.sendErr != nil:
		r.werr = os.NewSyscallError("write", r.sendErr)
		return 0, r.werr
	case err != nil:
		if r.sent < len(req) {
			r.werr = err // stopped before the request left whole
		}
		return 0, err
	case r.sent < len(req):
		// The socket took part of the request or none of it: the rest the
		// usual way (without a deadline: a bodiless request fits the socket's
		// buffer, as in exchange), then the usual read.
		if _, werr := r.c.nc.Write(req[r.sent:]); werr != nil {
			r.werr = werr
			return 0, werr
		}
		return r.c.nc.Read(p)
	case r.readErr != nil:
		return 0, os.NewSyscallError("read", r.readErr)
	case r.n == 0:
		return 0, io.EOF
	}
	return r.n, nil
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
