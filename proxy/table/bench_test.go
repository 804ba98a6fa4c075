package table

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
)

// buildTable makes n routes spread over n/2 hosts (two paths each) plus a
// wildcard and a catch-all.
func buildTable(b *testing.B, n int) *Table {
	var rs []*Route
	for i := 0; i < n; i++ {
		host := fmt.Sprintf("host-%d.example.com", i/2)
		path := fmt.Sprintf("/svc-%d", i%2)
		rs = append(rs, route(host, PathPrefix, path, backend(host+path)))
	}
	tb, err := New(1, rs, nil)
	if err != nil {
		b.Fatal(err)
	}
	return tb
}

func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			tb := buildTable(b, n)
			host := fmt.Sprintf("host-%d.example.com", (n-1)/2)
			path := fmt.Sprintf("/svc-%d/some/deeper/path", (n-1)%2)
			r := httptest.NewRequest(http.MethodGet, "http://"+host+path, nil)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if tb.Lookup(NormalizeHost(r.Host), CleanPath(r.URL.Path), r) == nil {
					b.Fatal("no route")
				}
			}
		})
	}
}

func BenchmarkSplit(b *testing.B) {
	main, cb := backend("main"), backend("canary")
	s := Split{Main: main, Canary: &Canary{Backend: cb, Header: "X-Canary", Cookie: "canary", Weight: 10, WeightTotal: 100, headerKey: "X-Canary"}}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Cookie", "session=abc; other=1")
	rnd := rand.New(rand.NewPCG(1, 1))
	av := avail{main: true, cb: true}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s.Choose(r, rnd, av)
	}
}
