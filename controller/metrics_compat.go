package controller

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// compatMetrics are ingress-nginx's controller families
// (nginx_ingress_controller_*) for --metrics-compat=ingress-nginx, so that
// its dashboards and alerts keep working: a table build stands for an
// nginx reload. The constant labels are controller_namespace,
// controller_class and controller_pod.
type compatMetrics struct {
	configHash    prometheus.Gauge
	lastOK        prometheus.Gauge
	lastOKTime    prometheus.Gauge
	reloads       prometheus.Counter
	reloadErrors  prometheus.Counter
	sslExpireTime *gaugeSet
}

func newCompatMetrics(labels prometheus.Labels) *compatMetrics {
	gauge := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: "nginx_ingress_controller_" + name, Help: help, ConstLabels: labels})
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "nginx_ingress_controller_" + name, Help: help, ConstLabels: labels})
	}
	return &compatMetrics{
		configHash:   gauge("config_hash", "Generation of the table in service (weir_controller_generation)."),
		lastOK:       gauge("config_last_reload_successful", "1 when the last table build succeeded, else 0."),
		lastOKTime:   gauge("config_last_reload_successful_timestamp_seconds", "Unix time of the last table published (weir_table_last_success_timestamp_seconds)."),
		reloads:      counter("success", "Tables built (weir_table_builds_total)."),
		reloadErrors: counter("errors", "Table builds that failed (weir_table_build_failures_total)."),
		sslExpireTime: newGaugeSet(prometheus.GaugeOpts{
			Name: "nginx_ingress_controller_ssl_expire_time_seconds", Help: "Unix time the certificate of a host expires (weir_ssl_certificate_expiry_seconds).",
			ConstLabels: labels}, "namespace", "secret_name", "host"),
	}
}

func (c *compatMetrics) register(reg prometheus.Registerer) {
	reg.MustRegister(c.configHash, c.lastOK, c.lastOKTime, c.reloads, c.reloadErrors, c.sslExpireTime.vec)
}

func (c *compatMetrics) failed() {
	c.reloadErrors.Inc()
	c.lastOK.Set(0)
}

// published records a table put in service; certs are Weir's certificate
// expiry series, by namespace, Secret and host.
func (c *compatMetrics) published(gen uint64, now time.Time, certs map[[3]string]float64) {
	c.reloads.Inc()
	c.configHash.Set(float64(gen))
	c.lastOK.Set(1)
	c.lastOKTime.Set(float64(now.Unix()))
	hosts := make(map[[3]string]float64, len(certs))
	for k, v := range certs {
		if k[2] != "" { // ingress-nginx reports the certificates of hosts only
			hosts[k] = v
		}
	}
	c.sslExpireTime.replace(hosts)
}
