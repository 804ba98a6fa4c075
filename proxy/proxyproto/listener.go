package proxyproto

import (
	"bufio"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Settings say whether newly accepted connections carry a header.
type Settings struct {
	Enabled bool
	// Timeout is how long a connection gets to send its header (default
	// 5s, ingress-nginx's proxy-protocol-header-timeout).
	Timeout time.Duration
}

// Listener wraps a net.Listener. Its settings may change at any time (Set):
// each accepted connection follows the settings of the moment it was
// accepted, so a change never disturbs open connections.
type Listener struct {
	net.Listener
	settings atomic.Pointer[Settings]
	// OnError, when set, hears about every refused header (for a log line
	// or a metric); it must not block.
	OnError func(remote net.Addr, err error)
}

// NewListener wraps ln with PROXY protocol off until Set turns it on.
func NewListener(ln net.Listener) *Listener {
	l := &Listener{Listener: ln}
	l.settings.Store(&Settings{})
	return l
}

// Set changes the settings for connections accepted from now on.
func (l *Listener) Set(s Settings) {
	if s.Timeout <= 0 {
		s.Timeout = 5 * time.Second
	}
	l.settings.Store(&s)
}

// Accept returns the next connection; with PROXY protocol on, one that
// reads its header on first use.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	s := l.settings.Load()
	if !s.Enabled {
		return c, nil
	}
	return &Conn{Conn: c, timeout: s.Timeout, onError: l.OnError}, nil
}

// Conn is a connection that starts with a PROXY protocol header.
type Conn struct {
	net.Conn
	timeout time.Duration
	onError func(net.Addr, error)
	once    sync.Once
	r       *bufio.Reader
	remote  net.Addr
	err     error
}

// init reads the header, at most once, within the timeout.
func (c *Conn) init() {
	c.once.Do(func() {
		c.remote = c.Conn.RemoteAddr()
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
		// A small reader: a v1 header is at most 107 bytes and most of a
		// v2 header is read through it; what follows the header stays
		// buffered for Read.
		c.r = bufio.NewReaderSize(c.Conn, 256)
		h, err := Read(c.r)
		_ = c.Conn.SetReadDeadline(time.Time{})
		if err != nil {
			c.err = err
			if c.onError != nil {
				c.onError(c.remote, err)
			}
			_ = c.Conn.Close()
			return
		}
		if a := h.TCPAddr(); a != nil {
			c.remote = a
		}
	})
}

// Read reads what follows the header.
func (c *Conn) Read(p []byte) (int, error) {
	c.init()
	if c.err != nil {
		return 0, c.err
	}
	if c.r.Buffered() > 0 {
		return c.r.Read(p)
	}
	return c.Conn.Read(p)
}

// RemoteAddr is the client the header names (the peer for LOCAL and
// UNKNOWN headers, and when the header was refused).
func (c *Conn) RemoteAddr() net.Addr {
	c.init()
	return c.remote
}
