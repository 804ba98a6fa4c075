package proxy

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"weir.dev/weir/proxy/cow"
	"weir.dev/weir/proxy/table"
)

// Metrics are the proxy's Prometheus metrics. Per-request observations are
// kept in Weir's own atomic counters (metrics_cells.go) and turned into
// Prometheus families only when scraped (metrics_collect.go), so the request
// path never takes a lock or hashes label values, and the ingress-nginx
// compatible families cost nothing per request: they are other views of the
// same observations. Series are keyed by their labels, survive table swaps,
// and are dropped once no published table uses them.
type Metrics struct {
	opts              MetricsOptions
	inFlight          prometheus.Gauge
	tableGeneration   prometheus.Gauge
	errors            *prometheus.CounterVec
	canaryUnavailable prometheus.Counter
	panics            *prometheus.CounterVec
	endpointHealth    *prometheus.GaugeVec

	mu     sync.Mutex
	series map[seriesKey]*series
	// owners holds the series each Server's table in service uses, with
	// the number of uses; a series no owner uses is removed.
	owners map[any]map[*series]int
	// backends are the namespace/service pairs of weir_backend_panic_total,
	// with the number of series naming each (setBackendLocked).
	backends map[[2]string]int
}

// MetricsOptions shape the per-request series.
type MetricsOptions struct {
	// PerHost labels request series with the route's host (ingress-nginx's
	// --metrics-per-host, default true there and in Weir's flag). Off, the
	// routes of all hosts of one Ingress and Service share their series.
	PerHost bool
	// Compat, when not nil, also exports ingress-nginx's
	// nginx_ingress_controller_* request families, with these constant
	// labels (controller_namespace, controller_class, controller_pod).
	Compat prometheus.Labels
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

// errorReasons are every reason, exported at 0 from the start so that
// rate() and alerts see the first error.
var errorReasons = []string{reasonNoRoute, reasonNoEndpoint, reasonUpstreamError, reasonUpstreamTimeout,
	reasonNoWeight, reasonBadRequest, reasonClientBody, reasonUnsafeHead}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer, opts MetricsOptions) *Metrics {
	m := &Metrics{
		opts: opts,
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
		series:   make(map[seriesKey]*series),
		owners:   make(map[any]map[*series]int),
		backends: make(map[[2]string]int),
	}
	for _, r := range errorReasons {
		m.errors.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.inFlight, m.tableGeneration, m.errors, m.canaryUnavailable, m.panics, m.endpointHealth, &requestCollector{m})
		if opts.Compat != nil {
			reg.MustRegister(newCompatCollector(m))
		}
	}
	return m
}

// seriesKey is the label set of one request series. path is the route's
// path, kept only for the ingress-nginx families (it is "" without them).
type seriesKey struct{ host, kind, namespace, ingress, service, canary, path string }

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
// of the default action, for owner (the Server publishing t). The series
// owner's previous table used and no table in service uses any more are
// removed, as ingress-nginx removes the metrics of deleted Ingresses.
func (m *Metrics) seriesFor(owner any, t *table.Table) (cow.Slice[*routeSeries], *routeSeries) {
	m.mu.Lock()
	defer m.mu.Unlock()
	used := make(map[*series]int)
	out := make([]*routeSeries, t.Len())
	for i, rt := range t.Routes() {
		if rt == nil {
			continue // removed (table.WithHosts)
		}
		out[i] = m.routeSeriesLocked(used, rt.Host, rt.Path.Value, rt.Source, rt.Action)
	}
	def := m.routeSeriesLocked(used, "", "", table.Source{}, t.Default())
	m.ownLocked(owner, used)
	return cow.Of(out), def
}

// release drops owner's claim on its series (a Server that is closed).
func (m *Metrics) release(owner any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ownLocked(owner, nil)
}

// ownLocked records the series owner uses now and removes those nobody
// uses any more.
func (m *Metrics) ownLocked(owner any, used map[*series]int) {
	prev := m.owners[owner]
	for s := range used {
		if _, ok := prev[s]; !ok {
			s.owners++
		}
	}
	for s := range prev {
		if _, ok := used[s]; ok {
			continue
		}
		if s.owners--; s.owners == 0 {
			m.dropLocked(s)
		}
	}
	if used == nil {
		delete(m.owners, owner)
	} else {
		m.owners[owner] = used
	}
}

// allSeries lists the series for a scrape. A scrape goes over every series
// anyway; a change of the table costs only what it changes.
func (m *Metrics) allSeries() []*series {
	m.mu.Lock()
	defer m.mu.Unlock()
	all := make([]*series, 0, len(m.series))
	for _, s := range m.series {
		all = append(all, s)
	}
	return all
}

// setBackendLocked records the backend whose requests a series counts.
// Each backend some series names has its panic counter, at 0 from the
// start; the counter goes with the last such series (dropLocked).
func (m *Metrics) setBackendLocked(s *series, b [2]string) {
	if s.backend == b {
		return
	}
	m.unsetBackendLocked(s)
	s.backend = b
	if m.backends[b]++; m.backends[b] == 1 {
		m.panics.WithLabelValues(b[0], b[1])
	}
}

func (m *Metrics) unsetBackendLocked(s *series) {
	b := s.backend
	if b == ([2]string{}) {
		return
	}
	s.backend = [2]string{}
	if m.backends[b]--; m.backends[b] == 0 {
		delete(m.backends, b)
		m.panics.DeleteLabelValues(b[0], b[1])
	}
}

// dropLocked removes a series no table uses any more.
func (m *Metrics) dropLocked(s *series) {
	delete(m.series, s.key)
	m.unsetBackendLocked(s)
}

func (m *Metrics) routeSeriesLocked(used map[*series]int, host, path string, src table.Source, a *table.Action) *routeSeries {
	if !m.opts.PerHost {
		host = ""
	}
	if m.opts.Compat == nil {
		path = ""
	}
	rs := &routeSeries{}
	base := seriesKey{host: host, kind: src.Kind, namespace: src.Namespace, ingress: src.Name, canary: "false", path: path}
	rs.none = m.getLocked(used, base)
	if a == nil {
		return rs
	}
	add := func(b *table.Backend, k seriesKey) {
		if b == nil {
			return
		}
		k.service = b.Service
		s := m.getLocked(used, k)
		m.setBackendLocked(s, [2]string{b.Namespace, b.Service})
		rs.entries = append(rs.entries, seriesEntry{b, s})
	}
	add(a.Split.Main, base)
	if c := a.Split.Canary; c != nil {
		k := base
		k.canary = "true"
		if c.Ingress != "" {
			k.ingress = c.Ingress // the canary Ingress's own name, as ingress-nginx labels it
		}
		add(c.Backend, k)
	}
	for _, w := range a.Split.Weighted {
		add(w.Backend, base)
	}
	return rs
}

func (m *Metrics) getLocked(used map[*series]int, k seriesKey) *series {
	s := m.series[k]
	if s == nil {
		s = &series{key: k}
		m.series[k] = s
	}
	used[s]++
	return s
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

// EndpointChecked records that an endpoint's active check started (the
// endpoint registry's hook): it starts healthy.
func (m *Metrics) EndpointChecked(address string) { m.EndpointHealth(address, true) }

// EndpointGone removes the health series of an endpoint no longer checked
// (the endpoint registry's hook).
func (m *Metrics) EndpointGone(address string) {
	m.endpointHealth.DeleteLabelValues(address)
}
