package proxy

import (
	"crypto/tls"
	"net"
	"runtime"
	"sync"
	"time"
)

// h2Conn is the connection the HTTP/2 server writes to: it gathers the
// server's small writes and sends them together.
//
// The HTTP/2 server writes every frame into a 4 KiB buffer and flushes it
// to the connection whenever it has nothing else queued, one write at a
// time. Under many concurrent streams of small responses that is nearly one
// TLS record and one write(2) per response: in scenario S4 of
// conformance/bench/sidebyside.sh the flushes were a sixth of Weir's CPU
// (docs/performance.md). Here a flush only copies the bytes aside and
// returns; a writer goroutine sends what has gathered once the goroutines
// already runnable (other streams' handlers) have had their turn, so one
// record carries the frames of many streams.
//
// The semantics the server relies on hold: bytes leave in order; a write
// blocks while h2MaxPending bytes wait (a client that stops reading holds
// the server back as a full socket would); a write error is returned by
// the next Write and by Close; Close sends what is pending first, for at
// most h2CloseFlush.
//
// Write deadlines are h2Conn's own, not the server's: the server sets one
// around each of its writes and clears it when the write returns, which
// here is before the bytes leave. Every write of the writer instead gets
// clientSendTimeout (sendtimeout.go), so a client that stops reading loses
// the connection, and the server's SetWriteDeadline is ignored.
// Large writes (bodies) bypass the copy once the pending bytes are out.
type h2Conn struct {
	net.Conn

	mu          sync.Mutex
	cond        sync.Cond // broadcast when the writer sends, fails or stops
	pending     []byte    // accepted, not yet sent
	writing     bool      // a writer goroutine runs (or a direct write is under way)
	err         error     // the first write error; every later Write returns it
	closed      bool
	send        sendDeadline // under mu
	sendTimeout time.Duration
	closeBy     time.Time // set by Close: the last writes' deadline
}

// h2TLSConn is an h2Conn over TLS: the server reads the TLS state (version,
// cipher suite, client certificate) from ConnectionState.
type h2TLSConn struct {
	*h2Conn
	tc *tls.Conn
}

// ConnectionState is the TLS connection's.
func (c h2TLSConn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

const (
	// h2MaxPending bounds the bytes gathered but not yet sent.
	h2MaxPending = 64 << 10
	// h2DirectWrite is the size from which a write is sent as it is
	// rather than copied (a DATA frame of a large body).
	h2DirectWrite = 16 << 10
)

// h2CloseFlush bounds how long Close waits for pending bytes.
var h2CloseFlush = time.Second

// h2Buffers holds the gathering buffers of connections not writing.
var h2Buffers = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

func newH2Conn(nc net.Conn, sendTimeout time.Duration) *h2Conn {
	c := &h2Conn{Conn: nc, sendTimeout: sendTimeout}
	c.cond.L = &c.mu
	return c
}

// Write gathers p; see h2Conn.
func (c *h2Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	big := len(p) >= h2DirectWrite
	for c.err == nil && !c.closed && (len(c.pending) >= h2MaxPending || big && c.writing) {
		c.cond.Wait()
	}
	if err := c.failure(); err != nil {
		return 0, err
	}
	if big {
		return c.writeDirect(p)
	}
	if c.pending == nil {
		c.pending = (*h2Buffers.Get().(*[]byte))[:0]
	}
	c.pending = append(c.pending, p...)
	if !c.writing {
		c.writing = true
		go c.writeLoop()
	}
	return len(p), nil
}

// writeDirect sends p itself, the lock released meanwhile; nothing is
// pending and no writer runs.
func (c *h2Conn) writeDirect(p []byte) (int, error) {
	c.writing = true
	err := c.arm()
	c.mu.Unlock()
	n := 0
	if err == nil {
		n, err = c.Conn.Write(p)
	}
	c.mu.Lock()
	c.writing = false
	if err != nil && c.err == nil {
		c.err = err
	}
	c.cond.Broadcast()
	return n, err
}

// arm sets the deadline of the write about to start: the send timeout, or
// Close's once it waits. Called with mu held, so Close's deadline is never
// overwritten.
func (c *h2Conn) arm() error {
	if c.closeBy.IsZero() {
		return c.send.refresh(c.Conn, c.sendTimeout)
	}
	return nil // Close has set closeBy on the connection
}

// SetWriteDeadline is ignored: see h2Conn.
func (c *h2Conn) SetWriteDeadline(time.Time) error { return nil }

// SetDeadline sets the read deadline only: see h2Conn.
func (c *h2Conn) SetDeadline(t time.Time) error { return c.Conn.SetReadDeadline(t) }

// failure is the error a Write returns now, if any.
func (c *h2Conn) failure() error {
	if c.err != nil {
		return c.err
	}
	if c.closed {
		return net.ErrClosed
	}
	return nil
}

// writeLoop sends the pending bytes until none are left.
func (c *h2Conn) writeLoop() {
	for {
		// Let the goroutines already runnable (handlers finishing other
		// streams, the server loop) add their frames first.
		runtime.Gosched()
		c.mu.Lock()
		buf := c.pending
		if len(buf) == 0 || c.err != nil {
			c.stopWriting()
			c.mu.Unlock()
			return
		}
		c.pending = nil
		err := c.arm()
		c.mu.Unlock()
		if err == nil {
			_, err = c.Conn.Write(buf)
		}
		c.mu.Lock()
		if err != nil && c.err == nil {
			c.err = err
		}
		c.release(buf)
		c.cond.Broadcast()
		c.mu.Unlock()
	}
}

// stopWriting ends the writer: its buffer goes back to the pool.
func (c *h2Conn) stopWriting() {
	c.writing = false
	if c.pending != nil {
		c.release(c.pending)
		c.pending = nil
	}
	c.cond.Broadcast()
}

func (c *h2Conn) release(buf []byte) {
	if cap(buf) <= 2*h2MaxPending {
		buf = buf[:0]
		h2Buffers.Put(&buf)
	}
}

// Close sends the pending bytes (for at most h2CloseFlush), then closes
// the connection.
func (c *h2Conn) Close() error {
	c.mu.Lock()
	if c.writing && c.err == nil {
		// The write under way now, and every later one, ends by closeBy.
		c.closeBy = time.Now().Add(h2CloseFlush)
		c.Conn.SetWriteDeadline(c.closeBy)
		for c.writing && c.err == nil {
			c.cond.Wait()
		}
	}
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	return c.Conn.Close()
}
