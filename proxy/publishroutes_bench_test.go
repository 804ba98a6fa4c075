package proxy

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"weir.dev/weir/proxy/endpoint"
	"weir.dev/weir/proxy/table"
)

// BenchmarkRequestPathByRoutes is the handler's whole request path (lookup,
// split, pick, the exchange with an in-process backend on a kept-alive
// connection, per-route metric series) with the table of side-by-side
// scenario S6 (conformance/bench/lib.sh): routes=1 is one Prefix "/";
// routes=1000 is 100 hosts x 10 paths (Exact /p0, Prefix /p1/, ..., every
// tenth host a wildcard) to one backend, as one Service gives them;
// backends=1000 gives each route a backend of its own with the same
// endpoint (1,000 pools; the endpoint state, health and idle connections
// are per address, so shared). Every variant serves GET /p7/x for
// h57.bench.test. The sub-benchmarks alternate with -count:
//
//	go test ./proxy -run '^$' -bench RequestPathByRoutes -count 10
func BenchmarkRequestPathByRoutes(b *testing.B) {
	addr := fixedBackend(b)
	for _, c := range []struct {
		name             string
		routes, backends int
	}{{"routes=1", 1, 1}, {"routes=1000", 1000, 1}, {"routes=1000,backends=1000", 1000, 1000}} {
		b.Run(c.name, func(b *testing.B) {
			benchServe(b, Options{}, MetricsOptions{PerHost: true}, s6Routes(addr, c.routes, c.backends),
				"GET /p7/x HTTP/1.1\r\nHost: h57.bench.test\r\nUser-Agent: bench\r\nAccept: */*\r\nX-Request-Id: 0123456789abcdef\r\n\r\n")
		})
	}
}

// benchServe publishes routes on a Server of its own and serves the
// request head given, b.N times, requiring 200 each time.
func benchServe(b *testing.B, opts Options, mopts MetricsOptions, routes []*table.Route, head string) {
	reg := endpoint.NewRegistry(endpoint.Options{})
	defer reg.Close()
	s := New(opts, reg, NewMetrics(prometheus.NewRegistry(), mopts), nil)
	defer s.Close()
	tb, err := table.New(1, routes, nil)
	if err != nil {
		b.Fatal(err)
	}
	s.Publish(tb)
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
	if err != nil {
		b.Fatal(err)
	}
	req.RemoteAddr = "192.0.2.1:40000"
	w := &discardResponse{h: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.status = 0
		s.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

// s6Routes is S6's table: one route, or 100 hosts x 10 paths on backends
// distinct *table.Backend values to addr.
func s6Routes(addr string, n, backends int) []*table.Route {
	be := make([]*table.Backend, backends)
	for i := range be {
		be[i] = &table.Backend{Name: fmt.Sprintf("default/backend-%d:80", i), Endpoints: []table.Endpoint{{Address: addr}}}
	}
	if n == 1 {
		return []*table.Route{{Path: table.PathMatch{Type: table.PathPrefix, Value: "/"}, Action: &table.Action{Split: table.Split{Main: be[0]}}}}
	}
	var rs []*table.Route
	for h := range n / 10 {
		host := fmt.Sprintf("h%d.bench.test", h)
		if h%10 == 9 {
			host = fmt.Sprintf("*.w%d.bench.test", h)
		}
		for p := range 10 {
			pm := table.PathMatch{Type: table.PathExact, Value: fmt.Sprintf("/p%d", p)}
			if p%2 == 1 {
				pm = table.PathMatch{Type: table.PathPrefix, Value: fmt.Sprintf("/p%d/", p)}
			}
			rs = append(rs, &table.Route{Host: host, Path: pm, Source: table.Source{Kind: "Ingress", Namespace: "default", Name: fmt.Sprintf("r%d", h)},
				Action: &table.Action{Split: table.Split{Main: be[len(rs)%backends]}}})
		}
	}
	return rs
}
