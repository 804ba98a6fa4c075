package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
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

// BenchmarkPublishEndpoints publishes an endpoint change of one backend in a
// table of 10,000 backends of 5 endpoints each (20,000 routes).
func BenchmarkPublishEndpoints(b *testing.B) {
	reg := endpoint.NewRegistry(endpoint.Options{})
	defer reg.Close()
	s := New(Options{}, reg, nil, nil)
	var routes []*table.Route
	var first *table.Backend
	for i := 0; i < 10000; i++ {
		be := &table.Backend{Name: fmt.Sprintf("ns/svc-%d:80", i)}
		for e := 0; e < 5; e++ {
			be.Endpoints = append(be.Endpoints, table.Endpoint{Address: fmt.Sprintf("10.%d.%d.%d:8080", i/65536, i/256%256, i%256*0+e)})
		}
		if first == nil {
			first = be
		}
		host := fmt.Sprintf("app-%d.example.com", i)
		routes = append(routes, &table.Route{Host: host, Path: table.PathMatch{Value: "/"}, Action: &table.Action{Split: table.Split{Main: be}}},
			&table.Route{Host: host, Path: table.PathMatch{Value: "/api"}, Action: &table.Action{Split: table.Split{Main: be}}})
	}
	tb, err := table.New(1, routes, nil)
	if err != nil {
		b.Fatal(err)
	}
	s.Publish(tb)
	cur := tb
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		eps := []table.Endpoint{{Address: fmt.Sprintf("10.200.%d.%d:8080", i/256%256, i%256)}}
		cur = cur.WithEndpoints(uint64(i+2), map[int][]table.Endpoint{first.Index(): eps})
		s.PublishEndpoints(cur, []int{first.Index()})
	}
}

// BenchmarkH1Server sends small GETs on kept-alive connections through
// Weir's HTTP/1.x server and the whole handler to an in-process backend
// (S1 of docs/performance.md in one process), with the access log off and
// on (to io.Discard). The clients and the backend allocate nothing per
// request, so allocs/op is the server's and handler's; ns/op includes the
// clients' and backend's CPU, so compare builds, not against nginx.
func BenchmarkH1Server(b *testing.B) {
	addr := fixedBackend(b)
	for _, conns := range []int{1, 256} {
		for _, log := range []bool{false, true} {
			b.Run(fmt.Sprintf("conns=%d/log=%v", conns, log), func(b *testing.B) {
				benchH1Server(b, addr, conns, log)
			})
		}
	}
}

func benchH1Server(b *testing.B, backend string, conns int, log bool) {
	reg := endpoint.NewRegistry(endpoint.Options{})
	defer reg.Close()
	s := New(Options{AccessLog: log, AccessLogWriter: io.Discard}, reg, nil, nil)
	defer s.Close()
	publishOneRoute(b, s, backend)
	front := serveOn(b, NewHTTPServer("", s, ServerOptions{HTTP1: HTTP1Weir}, nil), nil)
	req := []byte("GET /x?y=1 HTTP/1.1\r\nHost: a.test\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	cs := make([]net.Conn, conns)
	for i := range cs {
		c, err := net.Dial("tcp", front)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		cs[i] = c
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 4096)
			for left.Add(-1) >= 0 {
				if err := roundTripRaw(c, req, buf); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// roundTripRaw writes req on c and reads until the end of fixedBackend's
// answer as Weir passes it on.
func roundTripRaw(c net.Conn, req, buf []byte) error {
	if _, err := c.Write(req); err != nil {
		return err
	}
	n := 0
	for !bytes.HasSuffix(buf[:n], []byte("\r\n\r\nok\n")) {
		m, err := c.Read(buf[n:])
		if err != nil {
			return err
		}
		n += m
	}
	if !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 200 OK\r\n")) {
		return fmt.Errorf("answer %q", buf[:n])
	}
	return nil
}
