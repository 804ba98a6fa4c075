package proxy

import (
	"errors"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"weir.dev/weir/proxy/endpoint"
	"weir.dev/weir/proxy/table"
)

// BenchmarkPublishHostChange is one Ingress change reaching the proxy at
// 10,000 routes (one host each, a Service of two endpoints each): the
// change's table is table.WithHosts of the one in service with one host's
// route moved to another Service and back. op=derive is WithHosts alone;
// publish=full adds Server.Publish (every route's series and every pool
// built again), publish=hosts Server.PublishHosts (only the changed
// route's series and pools). Compare them within one run:
//
//	go test ./proxy -run '^$' -bench PublishHostChange -count 5
func BenchmarkPublishHostChange(b *testing.B) {
	const n = 10000
	for _, op := range []string{"derive", "publish=full", "publish=hosts"} {
		b.Run(fmt.Sprintf("routes=%d/%s", n, op), func(b *testing.B) {
			reg := endpoint.NewRegistry(endpoint.Options{})
			defer reg.Close()
			s := New(Options{}, reg, NewMetrics(prometheus.NewRegistry(), MetricsOptions{PerHost: true}), nil)
			defer s.Close()
			cur := newBenchTable(b, n, 0)
			s.Publish(cur)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				svc := n + i%2 // another Service, then back
				next, err := cur.WithHosts(uint64(i+2), []string{"host-0.test"}, []*table.Route{benchRoute(0, svc)})
				if errors.Is(err, table.ErrSparse) {
					// Each change leaves a freed backend's hole; after
					// thousands the controller builds the table anew, and
					// so does the benchmark, untimed.
					b.StopTimer()
					cur = newBenchTable(b, n, svc)
					s.Publish(cur)
					b.StartTimer()
					next, err = cur.WithHosts(uint64(i+2), []string{"host-0.test"}, []*table.Route{benchRoute(0, svc)})
				}
				if err != nil {
					b.Fatal(err)
				}
				switch op {
				case "publish=full":
					s.Publish(next)
				case "publish=hosts":
					s.PublishHosts(next)
				}
				cur = next
			}
		})
	}
}

// newBenchTable is n hosts' routes, host-i.test to svc-i (host-0.test to
// svc-svc0).
func newBenchTable(b *testing.B, n, svc0 int) *table.Table {
	routes := make([]*table.Route, n)
	for i := range routes {
		routes[i] = benchRoute(i, i)
	}
	routes[0] = benchRoute(0, svc0)
	t, err := table.New(1, routes, nil)
	if err != nil {
		b.Fatal(err)
	}
	return t
}

// benchRoute is host-<host>.test's route to a Service of its own.
func benchRoute(host, svc int) *table.Route {
	be := &table.Backend{Name: fmt.Sprintf("ns/svc-%d:80", svc), Namespace: "ns", Service: fmt.Sprintf("svc-%d", svc),
		Endpoints: []table.Endpoint{{Address: fmt.Sprintf("10.%d.%d.1:80", svc/250, svc%250)},
			{Address: fmt.Sprintf("10.%d.%d.2:80", svc/250, svc%250)}}}
	return &table.Route{Host: fmt.Sprintf("host-%d.test", host), Path: table.PathMatch{Type: table.PathPrefix, Value: "/"},
		Source: table.Source{Kind: "Ingress", Namespace: "ns", Name: fmt.Sprintf("ing-%d", host)},
		Action: &table.Action{Split: table.Split{Main: be}}}
}
