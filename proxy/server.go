// Package proxy is Weir's data plane: a net/http handler that serves every
// request from the routing table published last. It looks the route up,
// runs the split (main or canary, or a weighted list), picks an endpoint
// with the backend's balancer, forwards the request and records the outcome
// for passive health, metrics and the access log.
//
// The handler takes no global lock: the table and the endpoint pools of one
// generation sit behind one atomic.Pointer, loaded once per request.
package proxy

import (
	"crypto/tls"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"weir.dev/weir/proxy/balance"
	"weir.dev/weir/proxy/cow"
	"weir.dev/weir/proxy/endpoint"
	"weir.dev/weir/proxy/table"
	"weir.dev/weir/proxy/wire"
)

// Options configure a Server. Zero values take the documented defaults.
type Options struct {
	// TrustedProxies are the peers whose X-Forwarded-* headers are kept
	// (extended) instead of replaced. Default: none.
	TrustedProxies []netip.Prefix
	// AccessLog writes one JSON line per request when true, to
	// AccessLogWriter (default os.Stderr, where the process logs), in
	// writes of whole lines gathered for up to a second (accesslog.go).
	AccessLog       bool
	AccessLogWriter io.Writer
	// MaxIdlePerEndpoint bounds idle keep-alive connections per endpoint
	// (default 320, ingress-nginx's upstream-keepalive-connections). Below
	// the number of requests in flight to one endpoint, every request over
	// it opens and closes a connection.
	MaxIdlePerEndpoint int
	// UpstreamIdleTimeout closes idle upstream connections (default 30s,
	// below common backend keep-alive timeouts so Weir closes first).
	UpstreamIdleTimeout time.Duration
	// UpstreamKeepaliveRequests closes an HTTP/1.1 endpoint connection
	// after it carried this many requests (default 10000, ingress-nginx's
	// upstream-keepalive-requests; -1: no limit).
	UpstreamKeepaliveRequests int
	// UpstreamTLS is the client TLS configuration for HTTPS and GRPCS
	// backends (default: no verification, as ingress-nginx).
	UpstreamTLS *tls.Config
	// ClientBodyTimeout bounds each read of a client's request body: a
	// client that sends nothing for this long gets 408 (default 60s,
	// nginx's client_body_timeout).
	ClientBodyTimeout time.Duration
	// EnableUnderscoresInHeaders forwards client headers whose names
	// contain "_" (default false: dropped, as ingress-nginx does).
	EnableUnderscoresInHeaders bool
	// Rand replaces the split's random source (tests).
	Rand table.Rand
}

// Server is the reverse-proxy handler.
type Server struct {
	opts      Options
	log       *zap.Logger
	metrics   *Metrics
	registry  *endpoint.Registry
	snap      atomic.Pointer[snapshot]
	upstreams *upstreams
	rnd       table.Rand
	draining  atomic.Bool
	accessLog *accessLog             // nil: no access log
	global    atomic.Pointer[Global] // global.go
}

// snapshot is one published generation: the table, the endpoint pools of
// its backends (indexed by Backend.Index) and its metric series.
type snapshot struct {
	table  *table.Table
	pools  cow.Slice[*balance.Pool]
	series cow.Slice[*routeSeries] // indexed by Route.Index
	def    *routeSeries
}

// Available implements table.Availability over the snapshot's pools.
func (s *snapshot) Available(b *table.Backend) bool {
	return s.pools.At(b.Index()).Available()
}

// New returns a Server that answers 404 until the first Publish.
func New(opts Options, reg *endpoint.Registry, m *Metrics, log *zap.Logger) *Server {
	if opts.MaxIdlePerEndpoint <= 0 {
		opts.MaxIdlePerEndpoint = 320
	}
	if opts.UpstreamIdleTimeout <= 0 {
		opts.UpstreamIdleTimeout = 30 * time.Second
	}
	if opts.ClientBodyTimeout <= 0 {
		opts.ClientBodyTimeout = 60 * time.Second
	}
	if opts.UpstreamTLS == nil {
		opts.UpstreamTLS = &tls.Config{InsecureSkipVerify: true} // ingress-nginx default: proxy-ssl-verify off
	}
	if log == nil {
		log = zap.NewNop()
	}
	if m == nil {
		m = NewMetrics(nil, MetricsOptions{PerHost: true})
	}
	s := &Server{opts: opts, log: log, metrics: m, registry: reg, rnd: opts.Rand}
	if s.rnd == nil {
		s.rnd = globalRand{}
	}
	s.upstreams = newUpstreams(opts)
	if opts.AccessLog {
		w := opts.AccessLogWriter
		if w == nil {
			w = os.Stderr
		}
		s.accessLog = newAccessLog(w)
	}
	empty, _ := table.New(0, nil, nil)
	s.Publish(empty)
	return s
}

// Publish makes t the table that new requests use. Requests already running
// finish on the table they started with. Endpoint state carries over.
func (s *Server) Publish(t *table.Table) {
	snap := &snapshot{table: t, pools: s.registry.Publish(t)}
	snap.series, snap.def = s.metrics.seriesFor(s, t)
	s.snap.Store(snap)
	s.metrics.tableGeneration.Set(float64(t.Generation()))
	s.upstreams.forget(t)
}

// PublishEndpoints puts t in service, a table that table.WithEndpoints made
// from the one in service and that differs from it only in the endpoints of
// the backends indexed in changed: only their pools are rebuilt, so the cost
// does not grow with the number of routes. Given any other table it
// publishes in full.
func (s *Server) PublishEndpoints(t *table.Table, changed []int) {
	old := s.snap.Load()
	if t.DerivedFrom() == nil || t.DerivedFrom() != old.table {
		s.Publish(t)
		return
	}
	snap := &snapshot{table: t, pools: s.registry.PublishChanged(t, old.pools, changed), series: old.series, def: old.def}
	s.snap.Store(snap)
	s.metrics.tableGeneration.Set(float64(t.Generation()))
	s.forgetGone(old.pools, changed)
}

// PublishHosts puts t in service, a table that table.WithHosts made from
// the one in service: only the pools of the backends and the metric series
// of the routes that t.Changes names are built, the others are carried
// over, so the cost follows the change, not the number of routes. The new
// table, pools and series are swapped in at once. Given any other table it
// publishes in full.
func (s *Server) PublishHosts(t *table.Table) {
	old := s.snap.Load()
	ch := t.Changes()
	if ch == nil || t.DerivedFrom() != old.table {
		s.Publish(t)
		return
	}
	snap := &snapshot{table: t, pools: s.registry.PublishChanged(t, old.pools, ch.Backends),
		series: s.metrics.seriesChanged(s, t, old.series, ch.Routes), def: old.def}
	s.snap.Store(snap)
	s.metrics.tableGeneration.Set(float64(t.Generation()))
	s.forgetGone(old.pools, ch.Backends)
}

// forgetGone closes the idle connections to the endpoints of the pools at
// indices that left, now rather than at the next full publish (the
// registry marks them removed).
func (s *Server) forgetGone(pools cow.Slice[*balance.Pool], indices []int) {
	for _, i := range indices {
		if i >= pools.Len() || pools.At(i) == nil {
			continue
		}
		for _, ep := range pools.At(i).Endpoints() {
			if ep.Gone().Err() != nil {
				s.upstreams.forgetAddr(ep.Address())
			}
		}
	}
}

// Table returns the table in service.
func (s *Server) Table() *table.Table { return s.snap.Load().table }

// Drain marks the server as shutting down: keep-alive is turned off for the
// responses that follow, so clients reconnect elsewhere.
func (s *Server) Drain() { s.draining.Store(true) }

// Close releases upstream connections and its metric series, and writes
// the access log lines still buffered.
func (s *Server) Close() {
	s.upstreams.closeAll()
	s.metrics.release(s)
	if s.accessLog != nil {
		s.accessLog.flush()
	}
}

// globalRand draws from math/rand/v2's per-thread generator: no lock.
type globalRand struct{}

func (globalRand) IntN(n int) int { return rand.IntN(n) }

// requestInfo is what the handler learns about a request before forwarding.
type requestInfo struct {
	peerIP      string
	clientIP    string
	port        string
	scheme      string
	requestID   string
	trustedPeer bool
	// clientOnlyXFF sends clientIP alone as X-Forwarded-For (a peer
	// believed through the ConfigMap without compute-full-forwarded-for).
	clientOnlyXFF bool
	upgrade       bool
}

func (s *Server) requestInfo(r *http.Request) requestInfo {
	var info requestInfo
	s.fillRequestInfo(&info, r)
	return info
}

// fillRequestInfo is requestInfo into info (a result of this size would be
// a copy in the caller's frame: see fillOutgoing).
func (s *Server) fillRequestInfo(info *requestInfo, r *http.Request) {
	*info = requestInfo{scheme: "http", port: "80"}
	if r.TLS != nil {
		info.scheme, info.port = "https", "443"
	}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if tcp, ok := la.(*net.TCPAddr); ok {
			info.port = portString(tcp.Port)
		}
	}
	info.peerIP = splitHost(r.RemoteAddr)
	info.clientIP = info.peerIP
	s.trust(r, info) // global.go
	if ids := r.Header["X-Request-Id"]; len(ids) > 0 && ids[0] != "" {
		info.requestID = ids[0]
	} else {
		info.requestID = newRequestID()
	}
	info.upgrade = isWebSocketUpgrade(r)
}

// portNames holds the decimal form of the ports requests arrived on (a
// few listeners' ports), so that a request does not format its own.
var portNames atomic.Pointer[map[int]string]

func portString(port int) string {
	old := portNames.Load()
	if old != nil {
		if s, ok := (*old)[port]; ok {
			return s
		}
	}
	s := strconv.Itoa(port)
	m := make(map[int]string, 4)
	if old != nil {
		maps.Copy(m, *old)
	}
	m[port] = s
	portNames.CompareAndSwap(old, &m) // a lost race only formats again
	return s
}

// clientFromForwarded walks X-Forwarded-For (or the ConfigMap's
// forwarded-for-header) from the right and returns the first address that
// is not a trusted proxy, as nginx's real-ip module does.
func (s *Server) clientFromForwarded(vals []string, peer string, g *Global) string {
	client := peer
	for i := len(vals) - 1; i >= 0; i-- {
		var buf [8]string
		parts := buf[:0]
		for tok := range wire.Tokens(vals[i : i+1]) {
			parts = append(parts, tok)
		}
		for j := len(parts) - 1; j >= 0; j-- {
			ip, err := netip.ParseAddr(parts[j])
			if err != nil {
				return client
			}
			client = parts[j]
			if !s.trusted(ip, g) {
				return client
			}
		}
	}
	return client
}
