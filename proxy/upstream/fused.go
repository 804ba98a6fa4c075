package upstream

import "syscall"

// connReader is what a connection's bufio.Reader reads from: the
// connection itself, except for the first read after a request whose last
// bytes were left pending (sendPending). That read writes them and waits
// for the answer in one step (fused_linux.go), so that the read that would
// find nothing yet (the endpoint has not answered) is never made.
type connReader struct {
	c  *conn
	rc syscall.RawConn // nil: fusing is not possible (not a TCP connection)
	// pending is the end of a request not yet written: bytes still in the
	// connection's bufio.Writer's buffer, which nothing writes to before
	// the response has been read.
	pending []byte
	// werr is the error of the pending write: the request failed before
	// reaching the endpoint whole, as a failed write does (exchange).
	werr error
	// The state of one fused step (step), kept here so that the callback
	// is a method value made once per connection, not a closure per request.
	step             func(fd uintptr) bool
	p                []byte
	sent, n          int
	sendErr, readErr error
}

func (r *connReader) Read(p []byte) (int, error) {
	if r.pending != nil {
		return r.fused(p)
	}
	if r.c.readProbe {
		// The rest of an answer whose first bytes a fused read waited for
		// under armProbe's deadline: the exchange's own from here on.
		r.c.armRead(r.c.readTimeout)
	}
	return r.c.nc.Read(p)
}

// takeWriteErr returns the error of the last pending write, if any, and
// forgets it.
func (r *connReader) takeWriteErr() error {
	err := r.werr
	r.werr = nil
	return err
}
