package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// h1Server is Weir's own HTTP/1.x server loop (--http1-server=weir): one
// goroutine per connection that reads a request head with a strict parser
// (h1server_req.go), calls the handler on that goroutine and writes the
// answer in one system call when it fits (h1server_resp.go). net/http's
// server costs more per request than the proxying itself: a goroutine and a
// read per request to watch for the client leaving, a context per request,
// two copies of every response head. Connections that negotiate HTTP/2
// (ALPN h2, or the h2c preface when CleartextHTTP2 is on) are handed to the
// net/http server that HTTPServer wraps, whose HTTP/2 is x/net/http2's.
type h1Server struct {
	handler     http.Handler
	opts        ServerOptions
	maxHead     int // bytes of request line and header lines, CRLFs included
	log         *zap.Logger
	h2          *http.Server
	h2ln        *chanListener
	h2once      sync.Once
	workers     *h1Workers
	serveJob    func(h1Job) // serveConn, made once
	noKeepAlive atomic.Bool
	closing     atomic.Bool

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*h1ServerConn]struct{}
}

// Connection states: a connection is idle between requests; Shutdown
// closes idle connections and waits for the others.
const (
	connActive int32 = iota
	connIdle
	connClosing
)

func newH1Server(h http.Handler, opts ServerOptions, h2 *http.Server, log *zap.Logger) *h1Server {
	if log == nil {
		log = zap.NewNop()
	}
	s := &h1Server{
		handler: h, opts: opts, h2: h2, log: log,
		// net/http refuses heads over MaxHeaderBytes+4096 with 431, and
		// headerLimit the rest exactly: the same limits here.
		maxHead:   max(opts.MaxHeaderBytes-h2HeaderSlack, 1) + 4096,
		h2ln:      newChanListener(),
		workers:   newH1Workers(),
		listeners: map[net.Listener]struct{}{},
		conns:     map[*h1ServerConn]struct{}{},
	}
	s.serveJob = func(j h1Job) { s.serveConn(j.nc, j.tls) }
	return s
}

// serve accepts connections on ln until it is closed; with tlsConf set,
// each is a TLS connection whose ALPN protocol picks the server.
func (s *h1Server) serve(ln net.Listener, tlsConf *tls.Config) error {
	if !s.track(ln, true) {
		return http.ErrServerClosed
	}
	defer s.track(ln, false)
	s.h2once.Do(func() {
		s.h2ln.addr = ln.Addr()
		go s.h2.Serve(s.h2ln)
	})
	return acceptEach(ln, s.closing.Load, func(nc net.Conn) {
		s.workers.run(h1Job{nc, tlsConf}, s.serveJob)
	})
}

// acceptEach hands every connection ln accepts to serve until Accept fails
// for good: http.ErrServerClosed when closed says the failure is a close.
// Temporary failures (too many open files and the like) are waited out
// with a growing back-off, as net/http does.
func acceptEach(ln net.Listener, closed func() bool, serve func(net.Conn)) error {
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if closed() {
				return http.ErrServerClosed
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		serve(nc)
	}
}

func (s *h1Server) track(ln net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closing.Load() {
			return false
		}
		s.listeners[ln] = struct{}{}
		return true
	}
	delete(s.listeners, ln)
	return true
}

// serveConn runs one client connection: the TLS handshake, then HTTP/1.x
// requests until either side closes, unless the connection speaks HTTP/2.
func (s *h1Server) serveConn(nc net.Conn, tlsConf *tls.Config) {
	var state *tls.ConnectionState
	if tlsConf != nil {
		tc := tls.Server(nc, tlsConf)
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.ReadHeaderTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			s.log.Debug("http server", zap.String("message", "TLS handshake error from "+nc.RemoteAddr().String()), zap.Error(err))
			tc.Close()
			return
		}
		st := tc.ConnectionState()
		if st.NegotiatedProtocol == "h2" {
			s.handOff(tc)
			return
		}
		nc, state = tc, &st
	}
	c := newH1ServerConn(s, nc, state)
	if !s.add(c) {
		c.release(true)
		return
	}
	defer s.remove(c)
	c.serve()
}

// handOff gives an HTTP/2 connection to the net/http server.
func (s *h1Server) handOff(nc net.Conn) {
	if !s.h2ln.push(nc) {
		nc.Close()
	}
}

func (s *h1Server) add(c *h1ServerConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *h1Server) remove(c *h1ServerConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// keepAlive reports whether a connection may wait for another request.
func (s *h1Server) keepAlive() bool { return !s.noKeepAlive.Load() && !s.closing.Load() }

// stopListening closes the listeners and marks the server as closing.
func (s *h1Server) stopListening() {
	s.mu.Lock()
	s.closing.Store(true)
	lns := make([]net.Listener, 0, len(s.listeners))
	for ln := range s.listeners {
		lns = append(lns, ln)
	}
	s.mu.Unlock()
	for _, ln := range lns {
		ln.Close()
	}
	s.h2ln.Close()
}

// closeConns closes the connections that are idle, or all of them, and
// reports how many are left open.
func (s *h1Server) closeConns(all bool) int {
	s.mu.Lock()
	conns := make([]*h1ServerConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	left := 0
	for _, c := range conns {
		switch {
		case c.state.CompareAndSwap(connIdle, connClosing):
			c.nc.Close()
		case all:
			// A request served inside the read wait (h1server_raw.go) holds a
			// reference to the descriptor, and Close waits for every one:
			// end the request's context so that it stops, and close
			// without waiting (later reads and writes fail at once).
			c.ctx.cancel()
			go c.nc.Close()
		default:
			left++
		}
	}
	return left
}

// shutdown stops accepting, closes idle connections as they become idle
// and returns when none is left or ctx ends; HTTP/2 connections are the
// net/http server's to drain.
func (s *h1Server) shutdown(ctx context.Context) error {
	s.stopListening()
	h2done := make(chan error, 1)
	go func() { h2done <- s.h2.Shutdown(ctx) }()
	wait := time.Millisecond
	for s.closeConns(false) > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
	return <-h2done
}

// close closes the listeners and every connection at once.
func (s *h1Server) close() error {
	s.stopListening()
	s.closeConns(true)
	return s.h2.Close()
}

// chanListener is the listener of the net/http server that HTTP/2
// connections are handed to.
type chanListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newChanListener() *chanListener {
	return &chanListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *chanListener) push(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr {
	if l.addr == nil {
		return &net.TCPAddr{}
	}
	return l.addr
}
