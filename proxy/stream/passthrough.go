package stream

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Options tune a passthrough Listener or a TCP service Manager; zero values
// take the defaults.
type Options struct {
	// HelloTimeout bounds the wait for a whole ClientHello (default 10s).
	HelloTimeout time.Duration
	// IdleTimeout closes a spliced connection idle both ways (default
	// DefaultIdleTimeout).
	IdleTimeout time.Duration
	// DialTimeout bounds each connection attempt to an endpoint (default
	// 5s, ingress-nginx's proxy-connect-timeout).
	DialTimeout time.Duration
	Metrics     *Metrics // nil: none
	Log         *zap.Logger
}

func (o Options) withDefaults() Options {
	if o.HelloTimeout <= 0 {
		o.HelloTimeout = 10 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
	return o
}

// Listener wraps the HTTPS listener: a connection whose ClientHello names a
// passthrough host is spliced to that host's endpoints, byte for byte,
// without being terminated; every other connection comes out of Accept
// unchanged (the bytes read are replayed), for the TLS server. While no
// host is passed through, connections are handed on without being read.
type Listener struct {
	net.Listener
	opts   Options
	routes atomic.Pointer[Routes]
	ready  chan accepted
	done   chan struct{}
	once   sync.Once
	open   tracker // the connections being spliced
}

type accepted struct {
	c   net.Conn
	err error
}

// NewListener wraps ln and starts accepting from it.
func NewListener(ln net.Listener, opts Options) *Listener {
	l := &Listener{Listener: ln, opts: opts.withDefaults(), ready: make(chan accepted), done: make(chan struct{})}
	go l.acceptLoop()
	return l
}

// SetRoutes replaces the passthrough hosts for connections accepted from
// now on.
func (l *Listener) SetRoutes(r *Routes) { l.routes.Store(r) }

// Accept returns the next connection that is not passed through.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case a := <-l.ready:
		return a.c, a.err
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting; spliced connections run on until they end or
// idle out.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// Shutdown closes the listener (if the TLS server has not yet), lets the
// spliced connections run until they end or ctx does, then closes those
// left, logged and counted (result "cut"). It returns how many were cut.
func (l *Listener) Shutdown(ctx context.Context) int {
	_ = l.Close()
	return l.open.cut(ctx, l.opts, "TLS passthrough")
}

func (l *Listener) acceptLoop() {
	defer func() {
		if r := recover(); r != nil {
			l.opts.Log.Error("passthrough accept loop panicked", zap.Any("panic", r))
			l.Close()
		}
	}()
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if !l.hand(accepted{err: err}) || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if l.routes.Load().Len() == 0 {
			if !l.hand(accepted{c: c}) {
				c.Close()
				return
			}
			continue
		}
		go l.inspect(c)
	}
}

// hand passes a connection (or an error) to Accept; false once closed.
func (l *Listener) hand(a accepted) bool {
	select {
	case l.ready <- a:
		return true
	case <-l.done:
		return false
	}
}

// inspect reads the ClientHello within HelloTimeout and passes the
// connection through or on to the TLS server. A malformed, oversized or
// late hello closes the connection: the TLS server would refuse it too.
func (l *Listener) inspect(c net.Conn) {
	defer func() {
		if r := recover(); r != nil {
			l.opts.Log.Error("passthrough connection panicked", zap.Any("panic", r))
			c.Close()
		}
	}()
	c.RemoteAddr() // reads a PROXY protocol header first, under its own timeout
	_ = c.SetReadDeadline(time.Now().Add(l.opts.HelloTimeout))
	name, raw, err := ReadHello(c, MaxHello)
	_ = c.SetReadDeadline(time.Time{})
	m := l.opts.Metrics
	if err != nil && !errors.Is(err, ErrNotTLS) {
		m.count(passthroughLabel, resultRefused)
		l.opts.Log.Debug("passthrough: refused a ClientHello", zap.Stringer("client", c.RemoteAddr()), zap.Error(err))
		c.Close()
		return
	}
	t := l.routes.Load().Lookup(name)
	if t == nil {
		m.count(passthroughLabel, resultTerminated)
		if !l.hand(accepted{c: &replayConn{Conn: c, r: io.MultiReader(bytes.NewReader(raw), c)}}) {
			c.Close()
		}
		return
	}
	// Only spliced connections are tracked for the drain: those handed on
	// are the TLS server's, and the HTTPS path takes no lock here.
	if !l.open.add(c, passthroughLabel) {
		c.Close() // the drain is over
		return
	}
	defer l.open.remove(c)
	proxyTo(c, raw, t, nil, passthroughLabel, l.opts)
}

// replayConn gives back the bytes read while inspecting, then reads on.
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }
