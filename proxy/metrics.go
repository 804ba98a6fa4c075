package proxy

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"weir.dev/weir/proxy/table"
)

// Metrics are the proxy's Prometheus metrics. Per-request series are kept in
// Weir's own atomic counters and exported by a collector, so the request path
// never takes a lock or hashes label values; series are keyed by their
// labels and survive table swaps.
type Metrics struct {
	inFlight          prometheus.Gauge
	tableGeneration   prometheus.Gauge
	errors            *prometheus.CounterVec
	canaryUnavailable prometheus.Counter
	panics            *prometheus.CounterVec
	endpointHealth    *prometheus.GaugeVec

	mu     sync.Mutex
	series map[seriesKey]*series
	all    atomic.Pointer[[]*series]
}

// Error reasons for weir_proxy_errors_total.
const (
	reasonNoRoute         = "no_route"
	reasonNoEndpoint      = "no_endpoint"
	reasonUpstreamError   = "upstream_error"
	reasonUpstreamTimeout = "upstream_timeout"
	reasonNoWeight        = "no_backend_weight"
	reasonBadRequest      = "bad_request"   // a request head Weir refuses (validate.go)
	reasonClientBody      = "client_body"   // the client's body could not be read
	reasonUnsafeHead      = "unsafe_header" // a head from configuration Weir will not write
)

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weir_requests_in_flight", Help: "Requests being served."}),
		tableGeneration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weir_table_generation", Help: "Generation of the routing table in service."}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_proxy_errors_total", Help: "Requests Weir answered itself because it could not forward them, by reason."},
			[]string{"reason"}),
		canaryUnavailable: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_canary_unavailable_total", Help: "Requests sent to the main backend because the canary had no available endpoint."}),
		panics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_backend_panic_total", Help: "Picks made among all endpoints of a backend because none was healthy (panic threshold)."},
			[]string{"namespace", "service"}),
		endpointHealth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "weir_endpoint_healthy", Help: "Verdict of the active health check of an endpoint (1 healthy, 0 not)."},
			[]string{"endpoint"}),
		series: make(map[seriesKey]*series),
	}
	empty := []*series{}
	m.all.Store(&empty)
	if reg != nil {
		reg.MustRegister(m.inFlight, m.tableGeneration, m.errors, m.canaryUnavailable, m.panics, m.endpointHealth, &requestCollector{m})
	}
	return m
}

type seriesKey struct{ host, kind, namespace, ingress, service, canary string }

// series holds the counters of one label set.
type series struct {
	key seriesKey
	// counts maps method and status to a counter. It is copied on write
	// (a new method/status pair is rare), so the request path reads it with
	// one atomic load and no lock.
	counts   atomic.Pointer[map[uint32]*atomic.Uint64]
	countsMu sync.Mutex
	duration histogram
	upstream histogram
}

// routeSeries maps a route's backends to their series; a route has few.
type routeSeries struct {
	entries []seriesEntry
	none    *series // requests that reached no backend
}

type seriesEntry struct {
	backend *table.Backend
	s       *series
}

func (rs *routeSeries) get(b *table.Backend) *series {
	for i := range rs.entries {
		if rs.entries[i].backend == b {
			return rs.entries[i].s
		}
	}
	return rs.none
}

// seriesFor prepares the series of every route of t (indexed by route) and
// of the default action.
func (m *Metrics) seriesFor(t *table.Table) ([]*routeSeries, *routeSeries) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*routeSeries, len(t.Routes()))
	for i, rt := range t.Routes() {
		out[i] = m.routeSeriesLocked(rt.Host, rt.Source, rt.Action)
	}
	def := m.routeSeriesLocked("", table.Source{}, t.Default())
	all := make([]*series, 0, len(m.series))
	for _, s := range m.series {
		all = append(all, s)
	}
	m.all.Store(&all)
	return out, def
}

func (m *Metrics) routeSeriesLocked(host string, src table.Source, a *table.Action) *routeSeries {
	rs := &routeSeries{}
	base := seriesKey{host: host, kind: src.Kind, namespace: src.Namespace, ingress: src.Name, canary: "false"}
	rs.none = m.getLocked(base)
	if a == nil {
		return rs
	}
	add := func(b *table.Backend, canary string) {
		if b == nil {
			return
		}
		k := base
		k.service, k.canary = b.Service, canary
		rs.entries = append(rs.entries, seriesEntry{b, m.getLocked(k)})
	}
	add(a.Split.Main, "false")
	if c := a.Split.Canary; c != nil {
		add(c.Backend, "true")
	}
	for _, w := range a.Split.Weighted {
		add(w.Backend, "false")
	}
	return rs
}

func (m *Metrics) getLocked(k seriesKey) *series {
	s := m.series[k]
	if s == nil {
		s = &series{key: k}
		m.series[k] = s
	}
	return s
}

var methodNames = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "OTHER"}

func methodIndex(m string) uint32 {
	for i, n := range methodNames[:len(methodNames)-1] {
		if n == m {
			return uint32(i)
		}
	}
	return uint32(len(methodNames) - 1)
}

func (s *series) observe(method string, status int, d, up time.Duration) {
	key := methodIndex(method)<<16 | uint32(status)
	if m := s.counts.Load(); m != nil {
		if c := (*m)[key]; c != nil {
			c.Add(1)
			s.observeDurations(d, up)
			return
		}
	}
	s.counter(key).Add(1)
	s.observeDurations(d, up)
}

// counter returns (creating) the counter for key.
func (s *series) counter(key uint32) *atomic.Uint64 {
	s.countsMu.Lock()
	defer s.countsMu.Unlock()
	old := s.counts.Load()
	if old != nil {
		if c := (*old)[key]; c != nil {
			return c
		}
	}
	next := make(map[uint32]*atomic.Uint64, 1)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	c := new(atomic.Uint64)
	next[key] = c
	s.counts.Store(&next)
	return c
}

func (s *series) observeDurations(d, up time.Duration) {
	s.duration.observe(d)
	if up > 0 {
		s.upstream.observe(up)
	}
}

// histogram buckets, in seconds, as ingress-nginx's request duration.
var buckets = [...]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type histogram struct {
	counts [len(buckets) + 1]atomic.Uint64
	sumNs  atomic.Int64
}

func (h *histogram) observe(d time.Duration) {
	sec := d.Seconds()
	i := 0
	for i < len(buckets) && sec > buckets[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
}

func (h *histogram) metric(desc *prometheus.Desc, labels []string) prometheus.Metric {
	cum := make(map[float64]uint64, len(buckets))
	var n uint64
	for i, ub := range buckets {
		n += h.counts[i].Load()
		cum[ub] = n
	}
	n += h.counts[len(buckets)].Load()
	sum := float64(h.sumNs.Load()) / 1e9
	return prometheus.MustNewConstHistogram(desc, n, sum, cum, labels...)
}

var (
	seriesLabels = []string{"host", "kind", "namespace", "ingress", "service", "canary"} // kind: Ingress, HTTPRoute or GRPCRoute; ingress: its name
	requestsDesc = prometheus.NewDesc("weir_requests_total", "Requests served, by route, backend, method and status.",
		append(append([]string{}, seriesLabels...), "method", "status"), nil)
	durationDesc = prometheus.NewDesc("weir_request_duration_seconds", "Time from the request's arrival to the end of its response.", seriesLabels, nil)
	upstreamDesc = prometheus.NewDesc("weir_upstream_latency_seconds", "Time from sending a request to an endpoint to its response headers.", seriesLabels, nil)
)

// requestCollector exports the per-request series.
type requestCollector struct{ m *Metrics }

func (c *requestCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- requestsDesc
	ch <- durationDesc
	ch <- upstreamDesc
}

func (c *requestCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range *c.m.all.Load() {
		k := s.key
		labels := []string{k.host, k.kind, k.namespace, k.ingress, k.service, k.canary}
		m := s.counts.Load()
		if m == nil {
			continue
		}
		for ms, v := range *m {
			method := methodNames[min(int(ms>>16), len(methodNames)-1)]
			status := strconv.Itoa(int(ms & 0xffff))
			ch <- prometheus.MustNewConstMetric(requestsDesc, prometheus.CounterValue,
				float64(v.Load()), append(labels[:6:6], method, status)...)
		}
		ch <- s.duration.metric(durationDesc, labels)
		ch <- s.upstream.metric(upstreamDesc, labels)
	}
}

// BackendPanic counts a backend falling back to every endpoint because none
// was available (the endpoint registry's hook).
func (m *Metrics) BackendPanic(b *table.Backend) {
	m.panics.WithLabelValues(b.Namespace, b.Service).Inc()
}

// EndpointHealth records an active check's verdict (the endpoint registry's
// hook).
func (m *Metrics) EndpointHealth(address string, healthy bool) {
	v := 0.0
	if healthy {
		v = 1
	}
	m.endpointHealth.WithLabelValues(address).Set(v)
}
