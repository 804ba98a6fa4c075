package proxy

import (
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// histSum is a histogram read when scraped, possibly summed over cells.
type histSum struct {
	counts [maxBuckets]uint64
	sum    int64
}

func (a *histSum) add(h *histogram) {
	for i := range h.counts {
		a.counts[i] += h.counts[i].Load()
	}
	a.sum += h.sum.Load()
}

// metric is the summed histogram with cumulative buckets; scale turns the
// bounds' unit into the exported one (nanoseconds to seconds).
func (a *histSum) metric(desc *prometheus.Desc, bounds []int64, scale float64, labels []string) prometheus.Metric {
	cum := make(map[float64]uint64, len(bounds))
	var n uint64
	for i, ub := range bounds {
		n += a.counts[i]
		cum[float64(ub)*scale] = n
	}
	n += a.counts[len(bounds)]
	return prometheus.MustNewConstHistogram(desc, n, float64(a.sum)*scale, cum, labels...)
}

// histFamily is one histogram family over cells.
type histFamily struct {
	desc   *prometheus.Desc
	pick   func(*cell) *histogram
	bounds []int64
	scale  float64
}

func (f *histFamily) collect(ch chan<- prometheus.Metric, groups []*cellGroup) {
	for _, g := range groups {
		var a histSum
		for _, c := range g.cells {
			if h := f.pick(c); h != nil {
				a.add(h)
			}
		}
		ch <- a.metric(f.desc, f.bounds, f.scale, g.labels)
	}
}

func countFamily(ch chan<- prometheus.Metric, desc *prometheus.Desc, groups []*cellGroup) {
	for _, g := range groups {
		var n uint64
		for _, c := range g.cells {
			n += c.duration.count()
		}
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(n), g.labels...)
	}
}

// cellGroup is the cells that share one family's label values.
type cellGroup struct {
	labels []string
	cells  []*cell
}

// projection gives the label values of a cell in one view of the series.
type projection func(k *seriesKey, method, status string) []string

// groupCells groups the cells of every series by the label values project
// gives them, in first-seen order.
func groupCells(all []*series, project projection) []*cellGroup {
	index := make(map[string]*cellGroup)
	var out []*cellGroup
	for _, s := range all {
		m := s.cells.Load()
		if m == nil {
			continue
		}
		for ms, c := range *m {
			method := methodNames[min(int(ms>>16), len(methodNames)-1)]
			labels := project(&s.key, method, strconv.Itoa(int(ms&0xffff)))
			id := strings.Join(labels, "\xff")
			g := index[id]
			if g == nil {
				g = &cellGroup{labels: labels}
				index[id] = g
				out = append(out, g)
			}
			g.cells = append(g.cells, c)
		}
	}
	return out
}

func pickDuration(c *cell) *histogram { return &c.duration }
func pickHeader(c *cell) *histogram   { return &c.header }
func pickResponse(c *cell) *histogram { return &c.response }
func pickConnect(c *cell) *histogram  { return &c.connect }
func pickReqSize(c *cell) *histogram  { return &c.reqSize }
func pickRespSize(c *cell) *histogram { return &c.respSize }

// seriesLabels are Weir's own request labels. kind is the route's source
// (Ingress, HTTPRoute or GRPCRoute), ingress its name.
var seriesLabels = []string{"host", "kind", "namespace", "ingress", "service", "canary"}

func weirDesc(name, help string, extra ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, append(append([]string{}, seriesLabels...), extra...), nil)
}

var (
	requestsDesc = weirDesc("weir_requests_total", "Requests served, by route, backend, method and status.", "method", "status")
	weirHists    = []*histFamily{
		{weirDesc("weir_request_duration_seconds", "Time from the request's arrival to the end of its response."), pickDuration, timeBounds[:], 1e-9},
		{weirDesc("weir_upstream_latency_seconds", "Time from sending a request to an endpoint to its response headers."), pickHeader, timeBounds[:], 1e-9},
		{weirDesc("weir_upstream_response_seconds", "Time from sending a request to an endpoint to the end of its response."), pickResponse, timeBounds[:], 1e-9},
		{weirDesc("weir_upstream_connect_seconds", "Time to open a new connection to an endpoint, for requests that opened one (HTTP/1.1 in clear text)."), pickConnect, timeBounds[:], 1e-9},
		{weirDesc("weir_request_size_bytes", "Request size: head fields and declared body length."), pickReqSize, sizeBounds[:], 1},
		{weirDesc("weir_response_size_bytes", "Response body bytes sent to the client."), pickRespSize, sizeBounds[:], 1},
	}
)

func weirRoute(k *seriesKey, _, _ string) []string {
	return []string{k.host, k.kind, k.namespace, k.ingress, k.service, k.canary}
}

func weirRequest(k *seriesKey, method, status string) []string {
	return []string{k.host, k.kind, k.namespace, k.ingress, k.service, k.canary, method, status}
}

// requestCollector exports Weir's per-request families.
type requestCollector struct{ m *Metrics }

func (c *requestCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- requestsDesc
	for _, f := range weirHists {
		ch <- f.desc
	}
}

func (c *requestCollector) Collect(ch chan<- prometheus.Metric) {
	all := c.m.allSeries()
	countFamily(ch, requestsDesc, groupCells(all, weirRequest))
	routes := groupCells(all, weirRoute)
	for _, f := range weirHists {
		f.collect(ch, routes)
	}
}

// gaugeValue reads a gauge's current value.
func gaugeValue(g prometheus.Gauge) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		return 0
	}
	return m.GetGauge().GetValue()
}
