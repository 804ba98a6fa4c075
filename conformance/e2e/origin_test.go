package e2e

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// origin is an HTTP backend the test process itself runs on the cluster's
// bridge address, which every Pod reaches (kube-apiserver listens there
// too). Unlike echo-basic it records each request it gets, body included,
// so a test can tell what reached the backend and what Weir answered
// itself; handle answers them.
type origin struct {
	addr   string // bridge:port
	port   int32
	handle http.HandlerFunc

	mu   sync.Mutex
	seen []seen
}

// seen is one request an origin got.
type seen struct {
	Method, Path, Host string
	Header             http.Header
	Body               string
}

// startOrigin listens on the bridge address and serves until the test ends.
// A nil handle answers every request 200 with a short JSON document.
func startOrigin(t *testing.T, handle http.HandlerFunc) *origin {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(env.cluster.BridgeAddr.String(), "0"))
	if err != nil {
		t.Fatalf("listening on the bridge: %v", err)
	}
	if handle == nil {
		handle = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"origin":true}`)
		}
	}
	o := &origin{addr: ln.Addr().String(), port: int32(ln.Addr().(*net.TCPAddr).Port), handle: handle}
	srv := &http.Server{Handler: o, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() }) // also cuts a slow handler's request
	return o
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	o.mu.Lock()
	o.seen = append(o.seen, seen{Method: r.Method, Path: r.URL.RequestURI(), Host: r.Host, Header: r.Header.Clone(), Body: string(body)})
	o.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	o.handle(w, r)
}

// requests is what the origin got so far for path ("": any path).
func (o *origin) requests(path string) []seen {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []seen
	for _, s := range o.seen {
		if path == "" || s.Path == path {
			out = append(out, s)
		}
	}
	return out
}

// service makes the origin Service name of namespace ns: a Service without
// selector (port 80, "http") whose EndpointSlice holds the origin.
func (o *origin) service(t *testing.T, ctx context.Context, ns, name string) {
	t.Helper()
	createService(t, ctx, service(ns, name, nil))
	createSlice(t, ns, name, env.cluster.BridgeAddr.String(), o.port)
}

// url is the origin's base URL, http://bridge:port.
func (o *origin) url() string { return "http://" + o.addr }

// refusedURL is an http URL on the bridge address whose port refuses
// connections: a listener bound it and went away.
func refusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(env.cluster.BridgeAddr.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	return "http://" + net.JoinHostPort(env.cluster.BridgeAddr.String(), strconv.Itoa(port))
}

// within polls cond every 100 ms until it holds, failing the test after d
// with cond's description of the last state.
func within(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not %s within %v; last: %s", what, d, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// do sends method base+path with Host host, the given headers and body (none
// when empty), and returns the response with its body read (at most 1 MiB).
func do(c *http.Client, base, host, method, path string, header http.Header, body string) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return nil, nil, err
	}
	req.Host = host
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, b, err
}
