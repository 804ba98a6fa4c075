package stream

import "github.com/prometheus/client_golang/prometheus"

// Listener labels and connection results of the metrics.
const (
	passthroughLabel  = "passthrough"
	resultProxied     = "proxied"
	resultTerminated  = "terminated"  // handed to the TLS server
	resultRefused     = "refused"     // a malformed, oversized or late ClientHello or PROXY header
	resultUnavailable = "unavailable" // no endpoint, or none accepted the connection
	resultCut         = "cut"         // still open when the drain period ended at shutdown
)

// Metrics count stream connections. A nil *Metrics records nothing.
type Metrics struct {
	conns  *prometheus.CounterVec
	active *prometheus.GaugeVec
}

// NewMetrics registers weir_stream_connections_total{listener,result} and
// weir_stream_active_connections{listener} on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		conns: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "weir_stream_connections_total",
			Help: "Connections accepted by the TLS passthrough and TCP service listeners, and UDP service sessions, by listener (passthrough, tcp/PORT or udp/PORT) and result (proxied, terminated, refused, unavailable, cut)."},
			[]string{"listener", "result"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "weir_stream_active_connections",
			Help: "Connections being spliced and UDP sessions open, by listener (passthrough, tcp/PORT or udp/PORT)."}, []string{"listener"}),
	}
	if reg != nil {
		reg.MustRegister(m.conns, m.active)
	}
	return m
}

func (m *Metrics) count(listener, result string) {
	if m != nil {
		m.conns.WithLabelValues(listener, result).Inc()
	}
}

// open counts a spliced connection until the returned func runs.
func (m *Metrics) open(listener string) func() {
	if m == nil {
		return func() {}
	}
	g := m.active.WithLabelValues(listener)
	g.Inc()
	return g.Dec
}
