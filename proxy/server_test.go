package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"

	"weir.dev/weir/proxy/endpoint"
	"weir.dev/weir/proxy/table"
	"weir.dev/weir/proxy/upstream"
)

// harness is a Weir proxy in front of test backends.
type harness struct {
	t     *testing.T
	srv   *Server
	front *httptest.Server
	gen   uint64
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	reg := endpoint.NewRegistry(endpoint.Options{})
	t.Cleanup(reg.Close)
	if opts.Rand == nil {
		opts.Rand = rand.New(rand.NewPCG(1, 2))
		opts.Rand = &lockedRand{r: opts.Rand}
	}
	h := &harness{t: t, srv: New(opts, reg, nil, nil)}
	h.front = startFront(t, h.srv)
	t.Cleanup(h.front.Close)
	t.Cleanup(h.srv.Close)
	return h
}

type lockedRand struct {
	mu sync.Mutex
	r  table.Rand
}

func (l *lockedRand) IntN(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.IntN(n)
}

func (h *harness) publish(routes ...*table.Route) {
	h.t.Helper()
	h.gen++
	tb, err := table.New(h.gen, routes, nil)
	require.NoError(h.t, err)
	h.srv.Publish(tb)
}

// get sends a request through Weir and returns status and body.
func (h *harness) do(req *http.Request) (*http.Response, string) {
	h.t.Helper()
	u, _ := url.Parse(h.front.URL)
	host := req.Host
	req.URL.Scheme, req.URL.Host = "http", u.Host
	req.Host = host
	resp, err := h.front.Client().Do(req)
	require.NoError(h.t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func (h *harness) get(host, path string, hdr ...string) (int, string) {
	req := httptest.NewRequest(http.MethodGet, "http://"+host+path, nil)
	req.RequestURI = ""
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, body := h.do(req)
	return resp.StatusCode, body
}

// backendOf turns test servers into a table backend.
func backendOf(name string, servers ...*httptest.Server) *table.Backend {
	b := &table.Backend{Name: name, Service: name, Namespace: "test"}
	for _, s := range servers {
		b.Endpoints = append(b.Endpoints, table.Endpoint{Address: s.Listener.Addr().String()})
	}
	return b
}

func routeTo(host, path string, b *table.Backend) *table.Route {
	return &table.Route{Host: host, Path: table.PathMatch{Type: table.PathPrefix, Value: path},
		Action: &table.Action{Split: table.Split{Main: b}}, Source: table.Source{Kind: "Ingress", Namespace: "test", Name: "ing"}}
}

// named answers with its name and echoes what it saw.
func named(t *testing.T, name string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", name)
		fmt.Fprintf(w, "%s %s %s xff=%s proto=%s rid=%s host=%s", name, r.Method, r.URL.RequestURI(),
			r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Request-Id"), r.Host)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestRoutesByHostAndPath(t *testing.T) {
	h := newHarness(t, Options{})
	a, b := named(t, "a"), named(t, "b")
	h.publish(routeTo("a.test", "/", backendOf("a", a)), routeTo("a.test", "/b", backendOf("b", b)))
	code, body := h.get("a.test", "/x?q=1")
	assert.Equal(t, 200, code)
	assert.True(t, strings.HasPrefix(body, "a GET /x?q=1 "), body)
	_, body = h.get("A.TEST:8080", "/b/c")
	assert.True(t, strings.HasPrefix(body, "b GET /b/c "), body)
	code, body = h.get("other.test", "/")
	assert.Equal(t, 404, code)
	assert.Contains(t, body, "404")
}

func TestForwardedHeadersReplacedFromUntrustedPeers(t *testing.T) {
	h := newHarness(t, Options{})
	h.publish(routeTo("a.test", "/", backendOf("a", named(t, "a"))))
	_, body := h.get("a.test", "/", "X-Forwarded-For", "6.6.6.6", "X-Forwarded-Proto", "https", "X-Request-Id", "abc")
	assert.Contains(t, body, "xff=127.0.0.1 ")
	assert.Contains(t, body, "proto=http ")
	assert.Contains(t, body, "rid=abc ")
	assert.Contains(t, body, "host=a.test")
	_, body = h.get("a.test", "/")
	assert.Regexp(t, `rid=[0-9a-f]{32} `, body)
}

func TestNoEndpointsIs503(t *testing.T) {
	h := newHarness(t, Options{})
	h.publish(routeTo("a.test", "/", &table.Backend{Name: "empty", Problem: "service not found"}))
	code, _ := h.get("a.test", "/")
	assert.Equal(t, 503, code)
}

func TestDeadEndpointIs502AndRetriedElsewhere(t *testing.T) {
	h := newHarness(t, Options{})
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	alive := named(t, "alive")
	b := backendOf("mixed", dead, alive)
	b.Retry = table.RetryPolicy{Tries: 3, On: table.RetryError | table.RetryTimeout}
	h.publish(routeTo("a.test", "/", b))
	for i := 0; i < 10; i++ {
		code, body := h.get("a.test", "/")
		require.Equal(t, 200, code, "connect errors are retried on another endpoint")
		assert.Contains(t, body, "alive")
	}
	only := backendOf("dead", dead)
	h.publish(routeTo("a.test", "/", only))
	code, _ := h.get("a.test", "/")
	assert.Equal(t, 502, code)
}

func TestPostThatReachedTheBackendIsNeverRetried(t *testing.T) {
	h := newHarness(t, Options{})
	var hits atomic.Int32
	reset := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.ReadAll(r.Body)
		conn, _, _ := http.NewResponseController(w).Hijack()
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
	})
	var servers []*httptest.Server
	for i := 0; i < 3; i++ {
		s := httptest.NewServer(reset)
		defer s.Close()
		servers = append(servers, s)
	}
	b := backendOf("r", servers...)
	b.Retry = table.RetryPolicy{Tries: 3, On: table.RetryError | table.RetryTimeout}
	h.publish(routeTo("a.test", "/", b))
	req := httptest.NewRequest(http.MethodPost, "http://a.test/", strings.NewReader("payload"))
	req.RequestURI = ""
	resp, _ := h.do(req)
	assert.Equal(t, 502, resp.StatusCode)
	assert.Equal(t, int32(1), hits.Load(), "a POST that reached the backend is sent once")

	hits.Store(0)
	code, _ := h.get("a.test", "/")
	assert.Equal(t, 502, code)
	assert.Equal(t, int32(3), hits.Load(), "an idempotent GET reset before headers is retried up to the tries")
}

func TestUpstreamTimeoutIs504(t *testing.T) {
	h := newHarness(t, Options{})
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer slow.Close()
	defer close(release)
	b := backendOf("slow", slow)
	b.Timeouts.Read = 100 * time.Millisecond
	h.publish(routeTo("a.test", "/", b))
	code, _ := h.get("a.test", "/")
	assert.Equal(t, 504, code)
}

func TestOversizedHeadersGet431(t *testing.T) {
	reg := endpoint.NewRegistry(endpoint.Options{})
	defer reg.Close()
	s := New(Options{}, reg, nil, nil)
	srv := NewHTTPServer("127.0.0.1:0", s, ServerOptions{}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 40<<10))
	resp, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
}

func TestSlowHeaderClientIsCutOff(t *testing.T) {
	reg := endpoint.NewRegistry(endpoint.Options{})
	defer reg.Close()
	srv := NewHTTPServer("", New(Options{}, reg, nil, nil), ServerOptions{ReadHeaderTimeout: 100 * time.Millisecond}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln)
	defer srv.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n") // never finishes its headers
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(c)
	assert.NoError(t, err, "the server closes the connection well before the test's own deadline")
}

func TestWebSocketEcho(t *testing.T) {
	h := newHarness(t, Options{})
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "want upgrade", 400)
			return
		}
		conn, brw, _ := http.NewResponseController(w).Hijack()
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", r.Header.Get("Sec-WebSocket-Key"))
		brw.Flush()
		io.Copy(conn, brw) // echo every byte
	}))
	defer echo.Close()
	h.publish(routeTo("ws.test", "/", backendOf("ws", echo)))
	c, err := net.Dial("tcp", h.front.Listener.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "GET /chat HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: k1\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	assert.Equal(t, 101, resp.StatusCode)
	assert.Equal(t, "k1", resp.Header.Get("Sec-WebSocket-Accept"))
	for _, msg := range []string{"hello", "world"} {
		io.WriteString(c, msg)
		buf := make([]byte, len(msg))
		_, err := io.ReadFull(br, buf)
		require.NoError(t, err)
		assert.Equal(t, msg, string(buf))
	}
}

func TestH2CUpgradeIsRefused(t *testing.T) {
	h := newHarness(t, Options{})
	var sawUpgrade atomic.Bool
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawUpgrade.Store(r.Header.Get("Upgrade") != "")
		io.WriteString(w, "plain")
	}))
	defer b.Close()
	h.publish(routeTo("a.test", "/", backendOf("b", b)))
	code, body := h.get("a.test", "/", "Upgrade", "h2c", "Connection", "Upgrade, HTTP2-Settings", "HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")
	assert.Equal(t, 200, code)
	assert.Equal(t, "plain", body)
	assert.False(t, sawUpgrade.Load(), "the Upgrade header never reaches the backend")
}

func TestH2CBackendRoundTrip(t *testing.T) {
	h := newHarness(t, Options{})
	b := httptest.NewServer(h2c.NewHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		fmt.Fprintf(w, "proto=%s", r.Proto)
		w.Header().Set("X-Checksum", "ok")
	}), &http2.Server{}))
	defer b.Close()
	be := backendOf("h2", b)
	be.Protocol = table.H2C
	h.publish(routeTo("a.test", "/", be))
	code, body := h.get("a.test", "/")
	assert.Equal(t, 200, code)
	assert.Equal(t, "proto=HTTP/2.0", body)
}

func TestStreamingResponsesAreFlushed(t *testing.T) {
	h := newHarness(t, Options{})
	next := make(chan struct{})
	sse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-next
		io.WriteString(w, "data: two\n\n")
	}))
	defer sse.Close()
	h.publish(routeTo("a.test", "/", backendOf("sse", sse)))
	req, _ := http.NewRequest(http.MethodGet, h.front.URL+"/", nil)
	req.Host = "a.test"
	resp, err := h.front.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	require.NoError(t, err, "the first event arrives before the backend finishes")
	assert.Equal(t, "data: one\n", line)
	close(next)
	rest, _ := io.ReadAll(br)
	assert.Equal(t, "\ndata: two\n\n", string(rest))
}

func TestTableSwapsUnderLoadLoseNoRequest(t *testing.T) {
	h := newHarness(t, Options{})
	a, b := named(t, "a"), named(t, "b")
	h.publish(routeTo("a.test", "/", backendOf("a", a)))
	stop := make(chan struct{})
	var failures, total atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodGet, h.front.URL+"/", nil)
				req.Host = "a.test"
				resp, err := client.Do(req)
				total.Add(1)
				if err != nil || resp.StatusCode != 200 {
					failures.Add(1)
				}
				if resp != nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	for i := 0; i < 200; i++ {
		if i%2 == 0 {
			h.publish(routeTo("a.test", "/", backendOf("b", b)))
		} else {
			h.publish(routeTo("a.test", "/", backendOf("a", a)))
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	assert.Zero(t, failures.Load(), "of %d requests", total.Load())
	assert.Greater(t, total.Load(), int64(0))
}

func TestSourceRanges(t *testing.T) {
	h := newHarness(t, Options{})
	rt := routeTo("a.test", "/", backendOf("a", named(t, "a")))
	rt.Action.SourceAllow = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	h.publish(rt)
	code, _ := h.get("a.test", "/")
	assert.Equal(t, 403, code, "127.0.0.1 is not in the allow list")

	rt = routeTo("a.test", "/", backendOf("a", named(t, "a")))
	rt.Action.SourceAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	h.publish(rt)
	code, _ = h.get("a.test", "/")
	assert.Equal(t, 200, code)

	rt = routeTo("a.test", "/", backendOf("a", named(t, "a")))
	rt.Action.SourceAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	rt.Action.SourceDeny = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	h.publish(rt)
	code, _ = h.get("a.test", "/")
	assert.Equal(t, 403, code, "deny is applied first")
}

func TestHTTPSBackendSpeaksHTTP2WhenOffered(t *testing.T) {
	h := newHarness(t, Options{})
	b := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "proto=%s tls=%t", r.Proto, r.TLS != nil)
	}))
	b.EnableHTTP2 = true
	b.StartTLS()
	defer b.Close()
	be := backendOf("tls", b)
	be.Protocol = table.HTTPS
	h.publish(routeTo("a.test", "/", be))
	code, body := h.get("a.test", "/")
	assert.Equal(t, 200, code)
	assert.Equal(t, "proto=HTTP/2.0 tls=true", body)

	old := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "proto=%s", r.Proto)
	}))
	defer old.Close()
	be = backendOf("tls1", old)
	be.Protocol = table.HTTPS
	h.publish(routeTo("a.test", "/", be))
	_, body = h.get("a.test", "/")
	assert.Equal(t, "proto=HTTP/1.1", body, "HTTP/1.1 when the endpoint offers nothing else")
}

func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "finished")
	}))
	defer slow.Close()
	reg := endpoint.NewRegistry(endpoint.Options{})
	defer reg.Close()
	s := New(Options{}, reg, nil, nil)
	tb, err := table.New(1, []*table.Route{routeTo("a.test", "/", backendOf("slow", slow))}, nil)
	require.NoError(t, err)
	s.Publish(tb)
	srv := NewHTTPServer("", s, ServerOptions{}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go srv.Serve(ln)

	type result struct {
		code int
		body string
		conn string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/", nil)
		req.Host = "a.test"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{code: resp.StatusCode, body: string(b), conn: resp.Header.Get("Connection")}
	}()
	require.Eventually(t, func() bool { return s.metrics.inFlight != nil && inFlight(s) == 1 }, 5*time.Second, 5*time.Millisecond)
	s.Drain()
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- Shutdown(ctx, srv)
	}()
	time.Sleep(50 * time.Millisecond)
	_, err = net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	assert.Error(t, err, "no new connections once shutdown began")
	close(release)
	r := <-done
	require.NoError(t, r.err)
	assert.Equal(t, 200, r.code)
	assert.Equal(t, "finished", r.body)
	assert.NoError(t, <-shut, "shutdown returns once the in-flight request is done")
}

func inFlight(s *Server) float64 {
	m := &dto.Metric{}
	s.metrics.inFlight.Write(m)
	return m.GetGauge().GetValue()
}

func TestIdleConnectionsClosedByTheEndpointAreNotReused(t *testing.T) {
	// A backend that closes keep-alive connections after 100 ms (as Node.js
	// does after 5 s): a POST after the close must not land on the dead
	// connection, where it could not be retried.
	be := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "got %s", b)
	}))
	be.Config.IdleTimeout = 100 * time.Millisecond
	be.Start()
	defer be.Close()
	h := newHarness(t, Options{})
	h.srv.upstreams.h1 = upstream.New(upstream.Options{IdleCheck: 10 * time.Millisecond})
	h.publish(routeTo("a.test", "/", backendOf("b", be)))
	for i := 0; i < 3; i++ {
		req := httptest.NewRequest(http.MethodPost, "http://a.test/", strings.NewReader(fmt.Sprintf("body-%d", i)))
		req.RequestURI = ""
		resp, body := h.do(req)
		require.Equal(t, 200, resp.StatusCode, "POST %d", i)
		assert.Equal(t, fmt.Sprintf("got body-%d", i), body)
		time.Sleep(300 * time.Millisecond)
	}
}

func TestConnectToARemovedEndpointEndsAtOnce(t *testing.T) {
	// A Pod that went away leaves connection attempts hanging until the
	// connect timeout (30 s here). When a new table drops the endpoint, the
	// attempt ends and the request is retried on an endpoint that exists.
	h := newHarness(t, Options{})
	good := named(t, "good")
	const vanished = "127.0.0.1:1"
	dialing := make(chan struct{}, 1)
	var d net.Dialer
	h.srv.upstreams.h1 = upstream.New(upstream.Options{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != vanished {
			return d.DialContext(ctx, network, addr)
		}
		dialing <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	mk := func(addrs ...string) *table.Backend {
		b := &table.Backend{Name: "b", Timeouts: table.Timeouts{Connect: 30 * time.Second},
			Retry:   table.RetryPolicy{Tries: 3, On: table.RetryError | table.RetryTimeout},
			Balance: table.BalancePolicy{Kind: table.RoundRobin}} // the first pick is the second endpoint
		for _, a := range addrs {
			b.Endpoints = append(b.Endpoints, table.Endpoint{Address: a})
		}
		return b
	}
	h.publish(routeTo("a.test", "/", mk(good.Listener.Addr().String(), vanished)))
	done := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, h.front.URL+"/", nil)
		req.Host = "a.test"
		c := &http.Client{Timeout: 20 * time.Second}
		resp, err := c.Do(req)
		if err != nil {
			done <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	<-dialing
	h.publish(routeTo("a.test", "/", mk(good.Listener.Addr().String()))) // the Pod's endpoint is gone
	got := <-done
	assert.True(t, strings.HasPrefix(got, "200 good "), got)
}

func TestPublishEndpointsMovesTraffic(t *testing.T) {
	h := newHarness(t, Options{})
	a, b := named(t, "a"), named(t, "b")
	be := backendOf("svc", a)
	tb, err := table.New(1, []*table.Route{routeTo("a.test", "/", be)}, nil)
	require.NoError(t, err)
	h.srv.Publish(tb)
	_, body := h.get("a.test", "/")
	require.True(t, strings.HasPrefix(body, "a "), body)
	next := tb.WithEndpoints(2, map[int][]table.Endpoint{be.Index(): {{Address: b.Listener.Addr().String()}}})
	h.srv.PublishEndpoints(next, []int{be.Index()})
	for i := 0; i < 5; i++ {
		_, body = h.get("a.test", "/")
		assert.True(t, strings.HasPrefix(body, "b "), body)
	}
	assert.Same(t, next, h.srv.Table())
}

// A stream whose first event is long in coming still gets its head at once
// (server-sent events, gRPC, X-Accel-Buffering: no): the backend here sends
// nothing more until the client has the head.
func TestStreamHeadsAreSentBeforeTheFirstEvent(t *testing.T) {
	for _, header := range [][2]string{{"Content-Type", "text/event-stream"}, {"X-Accel-Buffering", "no"}} {
		t.Run(header[0], func(t *testing.T) {
			h := newHarness(t, Options{})
			gotHead := make(chan struct{})
			sse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(header[0], header[1])
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
				select {
				case <-gotHead:
					io.WriteString(w, "data: one\n\n")
				case <-r.Context().Done():
				}
			}))
			defer sse.Close()
			h.publish(routeTo("a.test", "/", backendOf("sse", sse)))
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.front.URL+"/", nil)
			req.Host = "a.test"
			resp, err := h.front.Client().Do(req)
			require.NoError(t, err, "the head arrives while the backend still waits")
			defer resp.Body.Close()
			assert.Equal(t, header[1], resp.Header.Get(header[0]))
			close(gotHead)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, "data: one\n\n", string(body))
		})
	}
}

// TestClientCannotSpoofSchemeOrProxy: from a peer that is not trusted,
// the forwarding facts a backend reads are Weir's. ingress-nginx sets
// X-Forwarded-Scheme and X-Scheme itself (Tornado's xheaders read X-Scheme
// before X-Forwarded-Proto) and clears Proxy, which CGI and FastCGI
// backends turn into HTTP_PROXY (httpoxy, CVE-2016-5385): a client's own
// values never reach the backend.
func TestClientCannotSpoofSchemeOrProxy(t *testing.T) {
	f := newFront(t, Options{}, ServerOptions{})
	rec := newRecorder(t)
	f.publish(t, routeTo("a.test", "/", rec.backend("rec")))
	out, _ := rawExchange(t, f.plain, "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n"+
		"Proxy: http://evil.test:3128\r\nX-Scheme: https\r\nX-Forwarded-Scheme: https\r\n\r\n")
	require.True(t, strings.HasPrefix(out, "HTTP/1.1 200 "), out)
	reqs, bad := rec.requests()
	assert.Empty(t, bad)
	require.Len(t, reqs, 1)
	h := reqs[0].header
	assert.Empty(t, h["Proxy"], "httpoxy: the client's Proxy header reached the backend")
	for _, k := range []string{"X-Scheme", "X-Forwarded-Scheme"} {
		for _, v := range h[k] {
			assert.Equal(t, "http", v, "%s: the client's own scheme reached the backend", k)
		}
	}
	assert.Equal(t, "http", h.Get("X-Forwarded-Proto"))
}
