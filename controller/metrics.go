package controller

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"weir.dev/weir/controller/translate"
)

func gauge(name, help string) prometheus.Gauge {
	return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
}

// metrics are the controller's Prometheus metrics: rebuilds, problems and
// certificates. Counters exist at 0 from the start, so rate() and alerts
// see the first failure.
type metrics struct {
	problems     *gaugeSet
	buildSeconds prometheus.Histogram
	routes       prometheus.Gauge
	generation   prometheus.Gauge
	failures     prometheus.Counter
	builds       *prometheus.CounterVec
	lastSuccess  prometheus.Gauge
	lastFailure  prometheus.Gauge
	certExpiry   *gaugeSet
	compat       *compatMetrics // nil: --metrics-compat off
}

func newMetrics(reg prometheus.Registerer, compat prometheus.Labels) *metrics {
	m := &metrics{
		problems: newGaugeSet(prometheus.GaugeOpts{
			Name: "weir_controller_problems", Help: "Problems found in the watched objects at the last rebuild, by reason, kind and namespace."},
			"reason", "kind", "namespace"),
		buildSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "weir_table_build_seconds", Help: "Time to translate the watched objects into a routing table.",
			Buckets: []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}}),
		routes:     gauge("weir_table_routes", "Routes in the table in service."),
		generation: gauge("weir_controller_generation", "Generation of the newest table the controller built."),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "weir_table_build_failures_total", Help: "Rebuilds whose table could not be built; the previous table stayed in service."}),
		builds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "weir_table_builds_total", Help: "Tables built, by path: full translation, endpoint-only refresh or Ingress-only refresh."},
			[]string{"path"}),
		lastSuccess: gauge("weir_table_last_success_timestamp_seconds", "Unix time the last table was built and published (0: none yet)."),
		lastFailure: gauge("weir_table_last_failure_timestamp_seconds", "Unix time a table last failed to build (0: never)."),
		certExpiry: newGaugeSet(prometheus.GaugeOpts{
			Name: "weir_ssl_certificate_expiry_seconds", Help: "Unix time the certificate served for a host expires, by Secret and host (host \"\": --default-ssl-certificate or a Gateway listener without hostname)."},
			"namespace", "secret", "host"),
	}
	for _, p := range []string{pathFull, pathEndpoints, pathIngresses} {
		m.builds.WithLabelValues(p)
	}
	if compat != nil {
		m.compat = newCompatMetrics(compat)
	}
	if reg != nil {
		reg.MustRegister(m.problems.vec, m.buildSeconds, m.routes, m.generation, m.failures, m.builds,
			m.lastSuccess, m.lastFailure, m.certExpiry.vec)
		if m.compat != nil {
			m.compat.register(reg)
		}
	}
	return m
}

// setProblems replaces the problem counts in one pass: series that stay are
// overwritten, not reset first, so a scrape during a rebuild never sees the
// family empty.
func (m *metrics) setProblems(ps []translate.Problem) {
	counts := make(map[[3]string]float64, len(ps))
	for _, p := range ps {
		counts[[3]string{p.Reason, p.Object.Kind, p.Object.Namespace}]++
	}
	m.problems.replace(counts)
}

// failed records a rebuild whose table could not be built.
func (m *metrics) failed(now time.Time) {
	m.failures.Inc()
	m.lastFailure.Set(float64(now.Unix()))
	if m.compat != nil {
		m.compat.failed()
	}
}

// published records a table put in service: its size and generation, the
// time, and the expiry of its certificates (the series of certificates no
// longer served go away). defaultSecret is --default-ssl-certificate.
func (m *metrics) published(res *translate.Result, gen uint64, now time.Time, defaultSecret string) {
	m.routes.Set(float64(res.Table.Len()))
	m.generation.Set(float64(gen))
	m.lastSuccess.Set(float64(now.Unix()))
	certs := map[[3]string]float64{}
	for host, ref := range res.CertificateSecrets {
		if c := res.Certificates[host]; c != nil {
			certs[[3]string{ref.Namespace, ref.Name, host}] = float64(c.NotAfter().Unix())
		}
	}
	if res.DefaultCertificate != nil {
		ns, name, _ := strings.Cut(defaultSecret, "/")
		certs[[3]string{ns, name, ""}] = float64(res.DefaultCertificate.NotAfter().Unix())
	}
	for _, gl := range res.GatewayListeners {
		for host, ref := range gl.CertificateSecrets {
			c := gl.Certificates[host]
			if host == "" {
				c = gl.DefaultCertificate
			}
			if c != nil {
				certs[[3]string{ref.Namespace, ref.Name, host}] = float64(c.NotAfter().Unix())
			}
		}
	}
	m.certExpiry.replace(certs)
	if m.compat != nil {
		m.compat.published(gen, now, certs)
	}
}

// gaugeSet is a gauge family whose series are replaced as a whole: the new
// values are set before the series that are gone are deleted, so a scrape
// in between never sees the family empty.
type gaugeSet struct {
	vec  *prometheus.GaugeVec
	last map[[3]string]bool
}

func newGaugeSet(opts prometheus.GaugeOpts, labels ...string) *gaugeSet {
	return &gaugeSet{vec: prometheus.NewGaugeVec(opts, labels)}
}

// replace makes values (by label values) the family's series.
func (g *gaugeSet) replace(values map[[3]string]float64) {
	for k, v := range values {
		g.vec.WithLabelValues(k[:]...).Set(v)
	}
	for k := range g.last {
		if _, ok := values[k]; !ok {
			g.vec.DeleteLabelValues(k[:]...)
		}
	}
	g.last = make(map[[3]string]bool, len(values))
	for k := range values {
		g.last[k] = true
	}
}
