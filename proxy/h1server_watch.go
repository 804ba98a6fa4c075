package proxy

import (
	"sync"
	"sync/atomic"
	"time"
)

// h1Watch notices a client that leaves while its request is being served,
// so that the request's context ends and the exchange with the endpoint
// stops (net/http's server does this with a read per request). A request
// answered within watchDelay, nearly all of them, costs no read and no
// goroutine: only a timer is reset and stopped. After that delay, and once
// the request body has been read, one read waits on the connection: an end
// or an error cancels the connection's context; a byte (the next pipelined
// request) is kept for the next read.
//
// A request served inside the connection's read wait (h1server_raw.go)
// cannot have a read wait on the connection: the serving goroutine holds
// its read lock. There the watch peeks without waiting instead, after
// watchDelay and then at doubling intervals of at most peekEvery.
type h1Watch struct {
	c        *h1ServerConn
	mu       sync.Mutex
	timer    *time.Timer
	armed    bool
	running  bool
	done     chan struct{}
	bodyDone atomic.Bool
	peek     bool          // peek, not read (served inside the read wait)
	every    time.Duration // the wait before the next peek
}

const (
	watchDelay = 50 * time.Millisecond
	peekEvery  = time.Second
)

// arm starts watching for the request that begins; bodyDone says it has no
// body to read first.
func (w *h1Watch) arm(bodyDone bool) {
	w.bodyDone.Store(bodyDone)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = true
	w.peek, w.every = w.c.raw.inside, watchDelay
	if w.timer == nil {
		w.timer = time.AfterFunc(watchDelay, w.fire)
		return
	}
	w.timer.Reset(watchDelay)
}

// disarm stops watching, waiting for a read in progress to give up.
func (w *h1Watch) disarm() {
	if w.timer == nil {
		return
	}
	w.timer.Stop()
	w.mu.Lock()
	w.armed = false
	running, done := w.running, w.done
	w.mu.Unlock()
	if running {
		w.c.recv.set(w.c.nc, time.Unix(1, 0))
		<-done
	}
}

func (w *h1Watch) fire() {
	w.mu.Lock()
	if !w.armed || w.running {
		w.mu.Unlock()
		return
	}
	if !w.bodyDone.Load() {
		w.timer.Reset(watchDelay) // the handler is still reading the body
		w.mu.Unlock()
		return
	}
	if w.peek {
		w.peekOnce()
		w.mu.Unlock()
		return
	}
	// Cleared under the lock: disarm's deadline, set after, must win.
	c := w.c
	c.recv.setElsewhere(c.nc, time.Time{})
	w.running, w.done = true, make(chan struct{})
	w.mu.Unlock()
	err := c.rd.readAhead()
	w.mu.Lock()
	if err != nil && !(w.armed == false && isTimeout(err)) {
		c.ctx.cancel() // the client left (or disarm's deadline raced an end)
	}
	w.running = false
	close(w.done)
	w.mu.Unlock()
}

// peekOnce looks at the connection without waiting: the client left, or
// is quiet (look again later), or has sent its next request (it is there;
// no more looks for this one).
func (w *h1Watch) peekOnce() {
	gone, quiet := peekClient(w.c.raw.rc)
	switch {
	case gone:
		w.c.ctx.cancel()
	case quiet:
		w.every = min(2*w.every, peekEvery)
		w.timer.Reset(w.every)
	}
}

// savedByteReader reads the connection, first the byte a watch read ahead.
type savedByteReader struct {
	conn  interface{ Read([]byte) (int, error) }
	saved byte
	has   bool
}

func (r *savedByteReader) Read(p []byte) (int, error) {
	if r.has && len(p) > 0 {
		p[0], r.has = r.saved, false
		return 1, nil
	}
	return r.conn.Read(p)
}

// readAhead reads one byte to keep, or returns why none came.
func (r *savedByteReader) readAhead() error {
	var b [1]byte
	n, err := r.conn.Read(b[:])
	if n == 1 {
		r.saved, r.has = b[0], true
		return nil
	}
	if err == nil {
		err = errClientGone
	}
	return err
}
