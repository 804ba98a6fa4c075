package proxy

import (
	"github.com/prometheus/client_golang/prometheus"
)

// compatLabels are the request labels of ingress-nginx's families (its
// socket collector): path is the route's path, host the route's host
// ("" with --metrics-per-host=false).
var compatLabels = []string{"status", "method", "path", "namespace", "ingress", "service", "canary", "host"}

// compatCollector exports ingress-nginx's nginx_ingress_controller_*
// request families from the same cells as Weir's own (--metrics-compat),
// so that dashboards and alerts written for ingress-nginx keep working.
type compatCollector struct {
	m           *Metrics
	requests    *prometheus.Desc
	connections *prometheus.Desc
	hists       []*histFamily
}

func newCompatCollector(m *Metrics) *compatCollector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("nginx_ingress_controller_"+name, help, labels, m.opts.Compat)
	}
	hist := func(name, help string, pick func(*cell) *histogram, bounds []int64, scale float64) *histFamily {
		return &histFamily{desc(name, help, compatLabels...), pick, bounds, scale}
	}
	return &compatCollector{
		m:           m,
		requests:    desc("requests", "Requests served (weir_requests_total).", compatLabels...),
		connections: desc("nginx_process_connections", "Requests being served, as state active (weir_requests_in_flight).", "state"),
		hists: []*histFamily{
			hist("request_duration_seconds", "Request processing time (weir_request_duration_seconds).", pickDuration, timeBounds[:], 1e-9),
			hist("response_duration_seconds", "Time until the endpoint's response ended (weir_upstream_response_seconds).", pickResponse, timeBounds[:], 1e-9),
			hist("header_duration_seconds", "Time until the endpoint's response headers (weir_upstream_latency_seconds).", pickHeader, timeBounds[:], 1e-9),
			hist("connect_duration_seconds", "Time to connect to the endpoint (weir_upstream_connect_seconds).", pickConnect, timeBounds[:], 1e-9),
			hist("request_size", "Request size (weir_request_size_bytes).", pickReqSize, sizeBounds[:], 1),
			hist("response_size", "Response size (weir_response_size_bytes).", pickRespSize, sizeBounds[:], 1),
		},
	}
}

func compatRequest(k *seriesKey, method, status string) []string {
	return []string{status, method, k.path, k.namespace, k.ingress, k.service, k.canary, k.host}
}

func (c *compatCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.requests
	ch <- c.connections
	for _, f := range c.hists {
		ch <- f.desc
	}
}

func (c *compatCollector) Collect(ch chan<- prometheus.Metric) {
	groups := groupCells(c.m.allSeries(), compatRequest)
	countFamily(ch, c.requests, groups)
	for _, f := range c.hists {
		f.collect(ch, groups)
	}
	ch <- prometheus.MustNewConstMetric(c.connections, prometheus.GaugeValue, gaugeValue(c.m.inFlight), "active")
}
