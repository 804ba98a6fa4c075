package proxy

import (
	"io"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"weir.dev/weir/proxy/table"
)

// BenchmarkRequestMetrics is one proxied request through the handler (as in
// TestProxiedRequestAllocationBudget) with Weir's metrics only and with the
// ingress-nginx families as well: the compat families are views of the same
// observations, so the two should cost the same.
func BenchmarkRequestMetrics(b *testing.B) {
	addr := fixedBackend(b)
	for _, c := range []struct {
		name   string
		compat prometheus.Labels
	}{{"compat=off", nil}, {"compat=on", prometheus.Labels{"controller_pod": "p", "controller_class": "c", "controller_namespace": "n"}}} {
		b.Run(c.name, func(b *testing.B) {
			be := &table.Backend{Name: "b", Service: "svc", Endpoints: []table.Endpoint{{Address: addr}}}
			benchServe(b, Options{AccessLogWriter: io.Discard}, MetricsOptions{PerHost: true, Compat: c.compat},
				[]*table.Route{{Host: "a.test", Path: table.PathMatch{Type: table.PathPrefix, Value: "/"},
					Source: table.Source{Kind: "Ingress", Namespace: "ns", Name: "web"}, Action: &table.Action{Split: table.Split{Main: be}}}},
				"GET /x?y=1 HTTP/1.1\r\nHost: a.test\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
		})
	}
}

// BenchmarkObserve is the metrics step alone: finding the cell of a
// request's method and status and updating its histograms.
func BenchmarkObserve(b *testing.B) {
	for _, c := range []struct {
		name   string
		compat prometheus.Labels
	}{{"compat=off", nil}, {"compat=on", prometheus.Labels{"controller_pod": "p"}}} {
		b.Run(c.name, func(b *testing.B) {
			m := NewMetrics(prometheus.NewRegistry(), MetricsOptions{PerHost: true, Compat: c.compat})
			be := &table.Backend{Name: "b", Service: "svc"}
			tb, _ := table.New(1, []*table.Route{{Host: "a.test", Path: table.PathMatch{Type: table.PathPrefix, Value: "/"},
				Source: table.Source{Kind: "Ingress", Namespace: "ns", Name: "web"}, Action: &table.Action{Split: table.Split{Main: be}}}}, nil)
			rs, _ := m.seriesFor(b, tb)
			req, _ := http.NewRequest("GET", "http://a.test/x", nil)
			req.Header.Set("User-Agent", "bench")
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				sm := sample{total: 3e6, forwarded: true, header: 2e6, response: 25e5, reqBytes: requestSize(req), respBytes: 512}
				rs.At(0).get(be).observe(req.Method, 200, &sm)
			}
		})
	}
}
