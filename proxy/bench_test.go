package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"weir.dev/weir/proxy/endpoint"
	"weir.dev/weir/proxy/table"
)

// BenchmarkHandler sends requests through the whole handler to an
// in-process backend over loopback; the httputil sub-benchmark is a plain
// httputil.ReverseProxy in the same setup, the reference to compare with.
func BenchmarkHandler(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer backend.Close()

	reg := endpoint.NewRegistry(endpoint.Options{})
	defer reg.Close()
	weir := New(Options{}, reg, nil, nil)
	be := &table.Backend{Name: "b", Endpoints: []table.Endpoint{{Address: backend.Listener.Addr().String()}}}
	tb, _ := table.New(1, []*table.Route{{Path: table.PathMatch{Value: "/"}, Action: &table.Action{Split: table.Split{Main: be}}}}, nil)
	weir.Publish(tb)

	u, _ := url.Parse(backend.URL)
	ref := httputil.NewSingleHostReverseProxy(u)
	ref.Transport = &http.Transport{MaxIdleConnsPerHost: 128}

	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"weir", weir}, {"httputil", ref}} {
		b.Run(c.name, func(b *testing.B) {
			front := httptest.NewServer(c.h)
			defer front.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(front.URL + "/x")
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}
