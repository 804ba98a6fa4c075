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

// BenchmarkLookupByRoutes is Lookup with side-by-side scenario S6's tables
// (conformance/bench/lib.sh): one Prefix "/" route, and 100 hosts x 10
// paths (Exact /p0, Prefix /p1/, ...; every tenth host a wildcard), for
// S6's request (host h57, path /p7/x) and one to a wildcard host.
func BenchmarkLookupByRoutes(b *testing.B) {
	for _, n := range []int{1, 1000} {
		for _, target := range []string{"h57.bench.test/p7/x", "a.w59.bench.test/p3/x"} {
			b.Run(fmt.Sprintf("routes=%d/%s", n, target), func(b *testing.B) {
				tb, err := New(1, s6Routes(n), nil)
				if err != nil {
					b.Fatal(err)
				}
				r := httptest.NewRequest(http.MethodGet, "http://"+target, nil)
				b.ReportAllocs()
				for b.Loop() {
					if tb.Lookup(NormalizeHost(r.Host), CleanPath(r.URL.Path), r) == nil {
						b.Fatal("no route")
					}
				}
			})
		}
	}
}

func s6Routes(n int) []*Route {
	be := backend("default/backend:80")
	if n == 1 {
		return []*Route{route("", PathPrefix, "/", be)}
	}
	var rs []*Route
	for h := range n / 10 {
		host := fmt.Sprintf("h%d.bench.test", h)
		if h%10 == 9 {
			host = fmt.Sprintf("*.w%d.bench.test", h)
		}
		for p := range 10 {
			if p%2 == 0 {
				rs = append(rs, route(host, PathExact, fmt.Sprintf("/p%d", p), be))
			} else {
				rs = append(rs, route(host, PathPrefix, fmt.Sprintf("/p%d/", p), be))
			}
		}
	}
	return rs
}
