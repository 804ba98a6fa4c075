package proxy

import (
	"errors"
	"net/http"
	"syscall"
	"time"
)

// Waiting for the next request inside the descriptor's read wait.
//
// Between two requests of a keep-alive connection the ordinary loop reads
// the connection, and for a client that sends its next request only once
// it has the answer (nearly all of them) that read is certain to find
// nothing: one system call per request that returns EAGAIN before Go's
// poller parks the goroutine. nginx has no such read: its event loop reads
// a connection only once epoll has said that it is readable.
//
// Go's poller keeps the same knowledge, but a new wait forgets it: a
// syscall.RawConn.Read (internal/poll's RawRead) clears the readiness it
// recorded before it calls its function, so a function that declined to
// read at once could wait for ever for a request that arrived before it
// was called. Readiness recorded while the function runs is kept. So the
// function serves the request it read, and then declines to read: the wait
// that follows is a wait on what the poller recorded, with no read to learn
// what it already knows. A request that arrived while the previous one was
// served wakes it at once; otherwise the read comes when the poller says
// there is something to read.
//
// The function holds the descriptor's read lock while it serves, so
// nothing else may read the connection meanwhile. It serves only what needs
// no such read: a request whose whole head is already read, that has no
// body and asks for no upgrade (a WebSocket tunnel reads the connection on
// its own goroutines). Everything else is handed back to the ordinary loop
// (serve), which then comes back here for the next request. The watch for a
// client that leaves (h1server_watch.go) peeks without waiting instead of
// reading while a request is served here. Writes take the descriptor's
// write lock, not its read lock, and the read deadline still bounds the
// wait: the idle timeout ends an idle connection as before.
//
// What the poller does not record again is an end of stream that came
// before the read that took the request (a client that half-closes right
// after its request, as some scripts do): the wait after the answer would
// not learn of it until the idle timeout. So the wait inside the read wait
// lasts between rawIdleWait and twice that (its deadline moves at most once
// per rawIdleWait on a busy connection); then the ordinary loop reads, which
// sees such an end at once, and waits the rest of the idle timeout. Under
// load no connection is idle that long, and the read is not made.
//
// Nor does the poller record again what a read left in the socket: a read
// that filled its buffer (a burst of pipelined requests) is followed by
// another read before the wait, as edge-triggered polling requires.

// rawState is a connection's state for serving inside the read wait.
type rawState struct {
	rc     syscall.RawConn // nil: plain reads only (TLS, other platforms)
	step   func(uintptr) bool
	rd     rawReader // what br reads through inside the wait
	inside bool      // a request is being served inside the wait
	out    rawOutcome
	ex     *h1Exchange // rawRun: read here, served by the ordinary loop
	err    error       // rawRefuse: why the head could not be read
}

// rawOutcome is what serveRaw leaves to the ordinary loop.
type rawOutcome int

const (
	rawEnded  rawOutcome = iota // the connection is done
	rawWait                     // read the (rest of the) next head the ordinary way
	rawRun                      // serve raw.ex the ordinary way
	rawRefuse                   // answer raw.err
	rawIdle                     // idle for rawIdleWait: wait the rest the ordinary way
)

// rawIdleWait is how long a connection waits for its next request inside
// the read wait (at least; at most twice that) before the ordinary loop
// waits the rest of the idle timeout.
const rawIdleWait = time.Second

// rawWaitFor is the wait inside the read wait: rawIdleWait (the server's
// rawIdleWait in tests), or the idle timeout when that is shorter.
func (c *h1ServerConn) rawWaitFor() time.Duration {
	w := rawIdleWait
	if c.srv.opts.rawIdleWait > 0 {
		w = c.srv.opts.rawIdleWait
	}
	return min(w, c.srv.opts.IdleTimeout)
}

// rawIdle marks the connection idle for the wait inside the read wait.
func (c *h1ServerConn) rawIdle() {
	w := c.rawWaitFor()
	c.idle(w, w)
}

// errWouldBlock is rawReader's "nothing to read now".
var errWouldBlock = errors.New("read would block")

// serveRaw serves the connection's next requests inside its read wait for
// as long as they allow, and says what is left to the ordinary loop.
func (c *h1ServerConn) serveRaw() rawOutcome {
	if c.br.Buffered() > 0 || c.rd.has {
		return rawWait // pipelined: the next head is (partly) here
	}
	if !c.srv.keepAlive() {
		return rawEnded
	}
	c.rawIdle()
	r := &c.raw
	r.out, r.ex, r.err = rawEnded, nil, nil
	c.rd.conn = &r.rd
	err := r.rc.Read(r.step)
	c.rd.conn = c.nc
	r.inside = false
	c.reclaimWriter()
	switch {
	case err == nil:
		return r.out
	case isTimeout(err) && c.rawWaitFor() < c.srv.opts.IdleTimeout:
		return rawIdle
	}
	return rawEnded // the idle timeout, a close, Shutdown
}

// rawStep is the function the read wait calls each time the connection
// may be readable; true ends the wait (raw.out says why).
func (c *h1ServerConn) rawStep(fd uintptr) bool {
	r := &c.raw
	r.rd.fd = int(fd)
	for {
		if c.br.Buffered() == 0 {
			if _, err := c.br.Peek(1); err != nil {
				return err != errWouldBlock // nothing yet: wait; an end: done
			}
			if !c.busy() {
				return true // Shutdown closed it meanwhile
			}
		}
		if !c.headBuffered() {
			r.out = rawWait // the rest within the read-header timeout
			return true
		}
		ex, err := c.readRequest()
		if err != nil {
			r.out, r.err = rawRefuse, err
			return true
		}
		if !servableInWait(&ex.req) {
			r.out, r.ex = rawRun, ex
			return true
		}
		r.inside = true
		keep := c.run(ex)
		r.inside = false
		if !keep || c.hijacked {
			return true // rawEnded
		}
		if c.br.Buffered() > 0 {
			continue // pipelined
		}
		if !c.srv.keepAlive() {
			return true
		}
		c.rawIdle()
		if r.rd.full {
			continue // more may be in the socket, with nothing to say so
		}
		return false // wait on what the poller recorded meanwhile
	}
}

// servableInWait reports whether a request can be served with the read
// lock held: no body to read and no upgrade that takes the connection over.
func servableInWait(r *http.Request) bool {
	return r.Body == http.NoBody && r.Method != http.MethodConnect && len(r.Header["Upgrade"]) == 0
}
