package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Reloadable serves one listening socket with an HTTPServer that can be
// replaced while it runs, to change its options (timeouts, header limit,
// HTTP/2 settings, TLS) the way nginx reloads: connections accepted after
// Replace are served by the new server, open ones finish with the server
// that accepted them and are then closed, and the socket itself is never
// closed in between, so no connection is refused.
//
// One goroutine accepts on the socket and hands each connection to the
// current generation's server through an in-memory listener; the cost is
// one goroutine hand-off per connection, nothing per request.
type Reloadable struct {
	ln     net.Listener
	tls    bool
	log    *zap.Logger
	drain  time.Duration
	closed atomic.Bool

	cur atomic.Pointer[generation]

	mu       sync.Mutex // serialises Replace and Shutdown; guards retiring
	retiring map[*generation]struct{}
	retired  sync.WaitGroup
	stop     chan struct{} // closed by Shutdown and Close
}

// generation is one server and the in-memory listener it accepts from.
type generation struct {
	srv *HTTPServer
	ln  *chanListener
}

// ReloadOptions configure a Reloadable.
type ReloadOptions struct {
	// TLS serves each server with ServeTLS (its TLSConfig).
	TLS bool
	// Drain is how long a replaced generation's in-flight requests get to
	// finish before its connections are closed (default 30 s).
	Drain time.Duration
	Log   *zap.Logger
}

// NewReloadable prepares ln to be served by srv; Serve starts it.
func NewReloadable(ln net.Listener, srv *HTTPServer, ro ReloadOptions) *Reloadable {
	if ro.Drain <= 0 {
		ro.Drain = 30 * time.Second
	}
	if ro.Log == nil {
		ro.Log = zap.NewNop()
	}
	r := &Reloadable{ln: ln, tls: ro.TLS, log: ro.Log, drain: ro.Drain,
		retiring: map[*generation]struct{}{}, stop: make(chan struct{})}
	r.cur.Store(r.start(srv))
	return r
}

// Addr is the socket's address.
func (r *Reloadable) Addr() string { return r.ln.Addr().String() }

// Server is the server of the connections accepted now.
func (r *Reloadable) Server() *HTTPServer { return r.cur.Load().srv }

// start makes a generation and serves its in-memory listener.
func (r *Reloadable) start(srv *HTTPServer) *generation {
	g := &generation{srv: srv, ln: newChanListener()}
	g.ln.addr = r.ln.Addr()
	serve := func() error { return g.srv.Serve(g.ln) }
	if r.tls {
		serve = func() error { return g.srv.ServeTLS(g.ln, "", "") }
	}
	go func() {
		// It returns when its listener is closed: by Replace (the
		// server then drains) or by Shutdown.
		if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			r.log.Error("listener failed", zap.String("addr", r.Addr()), zap.Error(err))
		}
	}()
	return g
}

// Serve accepts connections until Shutdown or Close, and returns
// http.ErrServerClosed then, or the socket's error.
func (r *Reloadable) Serve() error {
	return acceptEach(r.ln, r.closed.Load, r.hand)
}

// hand gives nc to the current generation. A generation whose listener was
// closed by Replace refuses it, and the next current one takes it.
func (r *Reloadable) hand(nc net.Conn) {
	for {
		if r.cur.Load().ln.push(nc) {
			return
		}
		if r.closed.Load() {
			nc.Close()
			return
		}
	}
}

// Replace serves connections accepted from now on with srv, which must
// not be serving yet. The previous server stops accepting at once; its
// open connections keep their options, get the drain period to finish what
// they are doing, and are closed when idle (or when the period ends).
// After Shutdown or Close, srv is closed instead.
func (r *Reloadable) Replace(srv *HTTPServer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		srv.Close()
		return
	}
	prev := r.cur.Swap(r.start(srv))
	prev.ln.Close()
	r.retiring[prev] = struct{}{}
	r.retired.Add(1)
	go func() {
		defer r.retired.Done()
		r.retire(prev)
	}()
}

// retire drains a replaced generation. It first waits twice the header
// timeout (the TLS handshake and the first request head each get one): a
// connection accepted just before the swap may not have sent its first
// request yet, and a draining server closes such a connection as idle,
// which its client would take for a failure (an idle keep-alive connection
// closed that way is retried by clients). When the whole socket shuts down
// first, Shutdown drains it with the others.
func (r *Reloadable) retire(g *generation) {
	t := time.NewTimer(2 * g.srv.ReadHeaderTimeout)
	select {
	case <-t.C:
	case <-r.stop:
		t.Stop()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.drain)
	defer cancel()
	if err := Shutdown(ctx, g.srv); err != nil {
		r.log.Debug("replaced listener settings: connections closed at the end of the drain period", zap.String("addr", r.Addr()))
	}
	r.mu.Lock()
	delete(r.retiring, g)
	r.mu.Unlock()
}

// Shutdown stops accepting, closes idle connections and waits for the
// others until ctx ends (then closes them), keep-alive off, as Shutdown
// does for one HTTPServer; generations still draining are drained with it.
func (r *Reloadable) Shutdown(ctx context.Context) error {
	gens := r.halt()
	errs := make(chan error, len(gens))
	for _, g := range gens {
		go func() { errs <- Shutdown(ctx, g.srv) }()
	}
	var err error
	for range gens {
		err = errors.Join(err, <-errs)
	}
	r.retired.Wait()
	return err
}

// Close closes the socket and every connection at once.
func (r *Reloadable) Close() error {
	var err error
	for _, g := range r.halt() {
		err = errors.Join(err, g.srv.Close())
	}
	return err
}

// halt stops accepting and returns every generation still serving.
func (r *Reloadable) halt() []*generation {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.CompareAndSwap(false, true) {
		close(r.stop)
		r.ln.Close()
	}
	gens := []*generation{r.cur.Load()}
	for g := range r.retiring {
		gens = append(gens, g)
	}
	return gens
}
