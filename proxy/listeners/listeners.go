// Package listeners runs the Gateway listeners: one socket per (Gateway,
// listener port), each with its own proxy.Server serving that listener's
// table and, for HTTPS, its own SNI certificate store. Apply opens the
// sockets that are new, republishes the tables of those that stay, and
// closes the ones that went away, draining only their own connections; no
// other listener's socket or connection is touched.
//
// Every listener's proxy.Server publishes through its own scope of one
// endpoint registry (endpoint.Registry.Scope), so an endpoint that several
// listeners and the Ingress table use has one in-flight count and one
// health verdict. Metrics are shared; the HTTP/2, timeout and TLS settings
// are the ones of Weir's Ingress listeners (proxy.NewHTTPServer,
// tls.ServerConfig), so there is one source for them.
package listeners

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"weir.dev/weir/proxy"
	"weir.dev/weir/proxy/endpoint"
	"weir.dev/weir/proxy/table"
	weirtls "weir.dev/weir/tls"
)

// Spec is one socket to serve.
type Spec struct {
	// Key names the listener in logs and errors, e.g. "gateway
	// default/web port 80".
	Key string
	// Addr is the address to bind, "host:port".
	Addr string
	// TLS serves HTTPS with Certificates chosen by SNI; otherwise plain
	// HTTP (and HTTP/2 with prior knowledge when ServerOptions allow it).
	TLS bool
	// Table is the listener's routing table.
	Table *table.Table
	// EndpointsOnly, when not nil, says Table differs from the table the
	// listener serves only in the endpoints of these backends (see
	// proxy.Server.PublishEndpoints).
	EndpointsOnly []int
	// Certificates maps listener hostnames ("a.example.com",
	// "*.example.com") to certificates, chosen by SNI with Gateway
	// semantics (sni.go); DefaultCertificate answers other names. TLS only.
	Certificates       map[string]*weirtls.Certificate
	DefaultCertificate *weirtls.Certificate
	// ClientCAs, when set, must sign a certificate every client presents
	// in the handshake (a Gateway's spec.tls.frontend); with
	// ClientCertOptional a certificate is asked for but neither required
	// nor verified (AllowInsecureFallback). TLS only.
	ClientCAs          *x509.CertPool
	ClientCertOptional bool
}

// Options configure a Manager.
type Options struct {
	// Proxy configures each listener's proxy.Server.
	Proxy proxy.Options
	// Server configures each socket's http.Server (TLS is set per listener).
	Server proxy.ServerOptions
	// TLS configures HTTPS listeners; share TicketKeys with the Ingress
	// HTTPS listener so resumption works across them.
	TLS weirtls.Options
	// Registry is the endpoint registry the Ingress table uses; each
	// listener publishes through its own Scope of it.
	Registry *endpoint.Registry
	// Metrics are shared with the Ingress listeners (may be nil).
	Metrics *proxy.Metrics
	Log     *zap.Logger
	// DrainPeriod is how long requests on a closing listener get to finish
	// (default 30s).
	DrainPeriod time.Duration
	// Listen opens a socket (default: TCP). Tests replace it.
	Listen func(addr string) (net.Listener, error)
}

// Manager owns the running listeners. Its methods may be called from any
// goroutine; requests never take its lock.
type Manager struct {
	opts     Options
	log      *zap.Logger
	mu       sync.Mutex
	live     map[string]*listener // by Addr
	draining bool
	closing  sync.WaitGroup
}

// listener is one open socket and what serves it.
type listener struct {
	key   string
	tls   bool
	ln    net.Listener
	srv   *proxy.HTTPServer
	proxy *proxy.Server
	scope *endpoint.Registry
	certs *sniStore
	base  *tls.Config // the TLS settings without client certificates
}

// New returns a Manager with no listener.
func New(opts Options) *Manager {
	if opts.Log == nil {
		opts.Log = zap.NewNop()
	}
	if opts.DrainPeriod <= 0 {
		opts.DrainPeriod = 30 * time.Second
	}
	if opts.Listen == nil {
		opts.Listen = func(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }
	}
	if opts.Registry == nil {
		opts.Registry = endpoint.NewRegistry(endpoint.Options{Logger: opts.Log})
	}
	return &Manager{opts: opts, log: opts.Log, live: make(map[string]*listener)}
}

// Apply makes the running listeners exactly specs: a listener whose Addr
// and TLS mode stay keeps its socket and connections and gets the new
// table and certificates; the others are opened or closed. It returns the
// sockets that could not be opened, by Key; they are tried again on the
// next Apply. Two specs with one Addr: the first (by Key) wins, the other
// gets an error.
func (m *Manager) Apply(specs []Spec) map[string]error {
	specs = append([]Spec(nil), specs...)
	sort.Slice(specs, func(i, j int) bool { return specs[i].Key < specs[j].Key })
	m.mu.Lock()
	defer m.mu.Unlock()
	errs := make(map[string]error)
	want := make(map[string]Spec, len(specs))
	for _, s := range specs {
		if prev, dup := want[s.Addr]; dup {
			errs[s.Key] = fmt.Errorf("address %s is already served by %s", s.Addr, prev.Key)
			continue
		}
		want[s.Addr] = s
	}
	for addr, l := range m.live {
		if s, ok := want[addr]; !ok || s.TLS != l.tls {
			m.close(addr, l)
		}
	}
	for _, addr := range sortedKeys(want) {
		s := want[addr]
		if l := m.live[addr]; l != nil {
			l.key = s.Key
			l.publish(s)
			continue
		}
		if m.draining {
			continue
		}
		l, err := m.open(s)
		if err != nil {
			errs[s.Key] = err
			m.log.Error("opening a Gateway listener", zap.String("listener", s.Key), zap.String("addr", s.Addr), zap.Error(err))
			continue
		}
		m.live[addr] = l
		m.log.Info("Gateway listener open", zap.String("listener", s.Key), zap.String("addr", l.ln.Addr().String()), zap.Bool("tls", s.TLS))
	}
	return errs
}

func sortedKeys(m map[string]Spec) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// open binds s.Addr and starts serving s.
func (m *Manager) open(s Spec) (*listener, error) {
	ln, err := m.opts.Listen(s.Addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", s.Addr, err)
	}
	scope := m.opts.Registry.Scope("listener " + s.Addr)
	l := &listener{key: s.Key, tls: s.TLS, ln: ln, scope: scope,
		proxy: proxy.New(m.opts.Proxy, scope, m.opts.Metrics, m.log.With(zap.String("listener", s.Key)))}
	opts := m.opts.Server
	if s.TLS {
		l.certs = &sniStore{}
		opts.CleartextHTTP2 = false
		// Weir's HTTPS settings (versions, ALPN, session tickets), with
		// this listener's own certificate choice and client certificates.
		opts.TLS = weirtls.ServerConfig(weirtls.NewStore(nil), m.opts.TLS)
		opts.TLS.GetCertificate = l.certs.getCertificate
		l.base = opts.TLS.Clone()
		l.base.GetConfigForClient = nil
		opts.TLS.GetConfigForClient = l.certs.configForClient
		l.certs.cur.Store(l.index(s))
	}
	var h http.Handler = l.proxy
	if s.TLS {
		h = misdirected{next: l.proxy, certs: l.certs}
	}
	l.srv = proxy.NewHTTPServer(ln.Addr().String(), h, opts, m.log)
	l.publish(s)
	go l.serve(m.log)
	return l, nil
}

func (l *listener) serve(log *zap.Logger) {
	var err error
	if l.tls {
		err = l.srv.ServeTLS(l.ln, "", "")
	} else {
		err = l.srv.Serve(l.ln)
	}
	// close() closes the socket before the server: a closed socket is the
	// normal end too.
	if err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		log.Error("Gateway listener failed", zap.String("listener", l.key), zap.Error(err))
	}
}

// publish puts s's table and certificates in service on l. A table it
// already serves is left alone; certificates change only with a full
// translation (EndpointsOnly nil).
func (l *listener) publish(s Spec) {
	if s.Table == nil || s.Table == l.proxy.Table() {
		return
	}
	if s.EndpointsOnly != nil {
		l.proxy.PublishEndpoints(s.Table, s.EndpointsOnly)
		return
	}
	l.proxy.Publish(s.Table)
	if l.certs != nil {
		l.certs.cur.Store(l.index(s))
	}
}

// index is what handshakes of s read: its certificates by SNI and, with
// client CAs, the TLS settings that require (or ask for) a certificate.
// Such handshakes issue no session tickets: a ticket from another listener
// (they share ticket keys) must not stand in for this port's verification.
func (l *listener) index(s Spec) *sniIndex {
	x := newSNIIndex(s.Certificates, s.DefaultCertificate)
	if s.ClientCAs == nil {
		return x
	}
	c := l.base.Clone()
	c.ClientCAs, c.ClientAuth, c.SessionTicketsDisabled = s.ClientCAs, tls.RequireAndVerifyClientCert, true
	if s.ClientCertOptional {
		c.ClientAuth = tls.RequestClientCert
	}
	x.clientAuth = c
	return x
}

// close stops accepting on l at once (so its address can be bound again)
// and drains its connections in the background.
func (m *Manager) close(addr string, l *listener) {
	delete(m.live, addr)
	m.log.Info("Gateway listener closing", zap.String("listener", l.key), zap.String("addr", addr))
	l.proxy.Drain()
	l.srv.SetKeepAlivesEnabled(false)
	_ = l.ln.Close()
	m.closing.Add(1)
	go func() {
		defer m.closing.Done()
		ctx, cancel := context.WithTimeout(context.Background(), m.opts.DrainPeriod)
		defer cancel()
		if err := proxy.Shutdown(ctx, l.srv); err != nil {
			m.log.Warn("Gateway listener closed with requests still running", zap.String("listener", l.key))
		}
		l.proxy.Close()
		empty, _ := table.New(0, nil, nil)
		l.scope.Publish(empty) // release its endpoints
	}()
}

// Addr returns the bound address of the listener serving addr (as given in
// a Spec), or nil. Useful when a Spec asked for port 0.
func (m *Manager) Addr(addr string) net.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l := m.live[addr]; l != nil {
		return l.ln.Addr()
	}
	return nil
}

// Drain turns keep-alive off on every listener and stops opening new ones;
// Shutdown follows.
func (m *Manager) Drain() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.draining = true
	for _, l := range m.live {
		l.proxy.Drain()
	}
}

// Shutdown stops accepting on every listener and waits until their
// requests finish or ctx ends, then closes what is left.
func (m *Manager) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	m.draining = true
	live := m.live
	m.live = make(map[string]*listener)
	m.mu.Unlock()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, l := range live {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := proxy.Shutdown(ctx, l.srv); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", l.key, err))
				mu.Unlock()
			}
			l.proxy.Close()
		}()
	}
	wg.Wait()
	m.closing.Wait()
	return errors.Join(errs...)
}
