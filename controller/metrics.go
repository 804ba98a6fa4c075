package controller

import (
	"github.com/prometheus/client_golang/prometheus"

	"weir.dev/weir/controller/translate"
)

type metrics struct {
	problems     *prometheus.GaugeVec
	buildSeconds prometheus.Histogram
	routes       prometheus.Gauge
	generation   prometheus.Gauge
	failures     prometheus.Counter
	builds       *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		problems: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "weir_controller_problems", Help: "Problems found in the watched objects at the last rebuild, by reason, kind and namespace."},
			[]string{"reason", "kind", "namespace"}),
		buildSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "weir_table_build_seconds", Help: "Time to translate the watched objects into a routing table.",
			Buckets: []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}}),
		routes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weir_table_routes", Help: "Routes in the table in service."}),
		generation: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "weir_controller_generation", Help: "Generation of the newest table the controller built."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_table_build_failures_total", Help: "Rebuilds whose table could not be built; the previous table stayed in service."}),
		builds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_table_builds_total", Help: "Tables built, by path: full translation or endpoint-only refresh."},
			[]string{"path"}),
	}
	if reg != nil {
		reg.MustRegister(m.problems, m.buildSeconds, m.routes, m.generation, m.failures, m.builds)
	}
	return m
}

func (m *metrics) setProblems(ps []translate.Problem) {
	m.problems.Reset()
	for _, p := range ps {
		m.problems.WithLabelValues(p.Reason, p.Object.Kind, p.Object.Namespace).Inc()
	}
}
