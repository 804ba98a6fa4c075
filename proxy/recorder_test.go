package proxy

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"weir.dev/weir/proxy/endpoint"
	"weir.dev/weir/proxy/stream/streamtest"
	"weir.dev/weir/proxy/table"
	weirtls "weir.dev/weir/tls"
)

// seen is one request as a recording backend read it off the wire.
type seen struct {
	method, target, host, proto string
	header                      http.Header
	body                        string
}

// recorder is a backend on a raw socket that parses every request strictly
// and keeps it, answers 200 "ok", and remembers anything it could not
// parse: the test's proof of what crossed the wire.
type recorder struct {
	addr  string
	mu    sync.Mutex
	reqs  []seen
	bad   []string // parse errors: a request the backend could not frame
	heads int      // request heads read, bodies whole or not
}

func newRecorder(t testing.TB) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.addr = serveConns(t, rec.serve)
	return rec
}

// serveConns runs serve on every connection to a new loopback listener
// and returns its address.
func serveConns(t testing.TB, serve func(net.Conn)) string {
	t.Helper()
	return streamtest.ServeTCP(t, serve).String()
}

func (rec *recorder) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		req, err := http.ReadRequest(br)
		if err != nil {
			if err != io.EOF && !isTimeout(err) && !strings.Contains(err.Error(), "connection reset") &&
				!strings.Contains(err.Error(), "use of closed") {
				rec.mu.Lock()
				rec.bad = append(rec.bad, err.Error())
				rec.mu.Unlock()
			}
			return
		}
		rec.mu.Lock()
		rec.heads++
		rec.mu.Unlock()
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return // the proxy broke off a body it could not read whole
		}
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, seen{req.Method, req.RequestURI, req.Host, req.Proto, req.Header, string(body)})
		rec.mu.Unlock()
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	}
}

func (rec *recorder) requests() ([]seen, []string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seen(nil), rec.reqs...), append([]string(nil), rec.bad...)
}

func (rec *recorder) backend(name string) *table.Backend {
	return &table.Backend{Name: name, Endpoints: []table.Endpoint{{Address: rec.addr}}}
}

// front is a Weir server on loopback as cmd/weir runs it: plain HTTP/1.1
// with h2c, and HTTPS offering h2.
type front struct {
	srv    *Server
	reg    *endpoint.Registry
	panics atomic.Int32 // backends that went into panic mode
	plain  string       // address of the plain listener
	tls    string       // address of the TLS listener
}

func newFront(t testing.TB, opts Options, sopts ServerOptions) *front {
	t.Helper()
	f := &front{}
	f.reg = endpoint.NewRegistry(endpoint.Options{OnPanic: func(*table.Backend) { f.panics.Add(1) }})
	t.Cleanup(f.reg.Close)
	f.srv = New(opts, f.reg, nil, nil)
	t.Cleanup(f.srv.Close)
	sopts.CleartextHTTP2 = true
	f.plain = serveOn(t, NewHTTPServer("", f.srv, sopts, nil), nil)
	cert, err := weirtls.SelfSigned(time.Now())
	require.NoError(t, err)
	sopts.CleartextHTTP2 = false
	sopts.TLS = &tls.Config{Certificates: []tls.Certificate{*cert.TLSCertificate()}, NextProtos: []string{"h2", "http/1.1"}}
	f.tls = serveOn(t, NewHTTPServer("", f.srv, sopts, nil), sopts.TLS)
	return f
}

func serveOn(t testing.TB, srv *HTTPServer, conf *tls.Config) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if conf != nil {
		go srv.ServeTLS(ln, "", "")
	} else {
		go srv.Serve(ln)
	}
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

var frontGen uint64

func (f *front) publish(t testing.TB, routes ...*table.Route) {
	t.Helper()
	frontGen++
	tb, err := table.New(frontGen, routes, nil)
	require.NoError(t, err)
	f.srv.Publish(tb)
}

// rawExchange writes in on a new connection to addr and returns everything
// the server sent until it closed the connection, and whether it did close
// it (rather than the test's deadline ending).
func rawExchange(t testing.TB, addr, in string) (string, bool) {
	t.Helper()
	c := dialRaw(t, addr, in, 10*time.Second)
	defer c.Close()
	out, err := io.ReadAll(c)
	return string(out), err == nil
}

// rawHalfClose is rawExchange for a client that ends its side of the
// connection after in, and reads on.
func rawHalfClose(t testing.TB, addr, in string) string {
	t.Helper()
	c := dialRaw(t, addr, in, 10*time.Second)
	defer c.Close()
	c.(*net.TCPConn).CloseWrite()
	out, _ := io.ReadAll(c)
	return string(out)
}

// dialRaw connects to addr, writes in and leaves wait for reading.
func dialRaw(t testing.TB, addr, in string, wait time.Duration) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	c.SetDeadline(time.Now().Add(wait))
	io.WriteString(c, in)
	return c
}

// dial connects to the front's plain listener, or to its TLS one with
// HTTP/1.1 negotiated; the connection closes with the test.
func (f *front) dial(t testing.TB, useTLS bool) net.Conn {
	t.Helper()
	var c net.Conn
	var err error
	if useTLS {
		c, err = tls.Dial("tcp", f.tls, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	} else {
		c, err = net.Dial("tcp", f.plain)
	}
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// ejected lists the endpoints that passive health took out.
func (f *front) ejected() []string {
	var out []string
	for _, e := range f.reg.Snapshot() {
		if e.Ejected {
			out = append(out, e.Address)
		}
	}
	return out
}

// rawKeepOpen writes in and reads what comes back without half-closing: a
// server that keeps the connection open shows it by the read timing out.
func rawKeepOpen(t testing.TB, addr, in string, wait time.Duration) (string, bool) {
	t.Helper()
	c := dialRaw(t, addr, in, wait)
	defer c.Close()
	out, err := io.ReadAll(c)
	return string(out), err == nil
}

// responses parses the HTTP/1.1 responses in out, in order.
func responses(out, method string) []*http.Response {
	var resps []*http.Response
	br := bufio.NewReader(strings.NewReader(out))
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			return resps
		}
		io.ReadAll(resp.Body)
		resps = append(resps, resp)
	}
}
