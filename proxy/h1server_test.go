package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/proxy/endpoint"
	"weir.dev/weir/proxy/table"
)

func weirFront(t *testing.T) (*front, *recorder) {
	f := newFront(t, Options{}, ServerOptions{HTTP1: HTTP1Weir})
	rec := newRecorder(t)
	f.publish(t, routeTo("a.test", "/", rec.backend("rec")))
	return f, rec
}

// TestH1ServerRefusesMalformedHeads: what Weir's HTTP/1.x server refuses
// beyond net/http (bare LF, folded lines, other versions) and what it
// refuses as net/http's server does; each refusal is answered, the
// connection closed, and nothing reaches the backend.
func TestH1ServerRefusesMalformedHeads(t *testing.T) {
	f, rec := weirFront(t)
	cases := map[string]struct {
		in     string
		status int
	}{
		"bare LF":             {"GET / HTTP/1.1\nHost: a.test\n\n", 400},
		"bare LF in a field":  {"GET / HTTP/1.1\r\nHost: a.test\r\nX-A: 1\nX-B: 2\r\n\r\n", 400},
		"obs-fold":            {"GET / HTTP/1.1\r\nHost: a.test\r\nX-A: 1\r\n 2\r\n\r\n", 400},
		"HTTP/2.0 line":       {"GET / HTTP/2.0\r\nHost: a.test\r\n\r\n", 505},
		"HTTP/1.2":            {"GET / HTTP/1.2\r\nHost: a.test\r\n\r\n", 505},
		"lower-case version":  {"GET / http/1.1\r\nHost: a.test\r\n\r\n", 400},
		"two spaces":          {"GET  / HTTP/1.1\r\nHost: a.test\r\n\r\n", 400},
		"no Host":             {"GET / HTTP/1.1\r\n\r\n", 400},
		"two Hosts":           {"GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n", 400},
		"bad Host":            {"GET / HTTP/1.1\r\nHost: a test\r\n\r\n", 400},
		"TE in HTTP/1.0":      {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		"unknown expectation": {"POST / HTTP/1.1\r\nHost: a.test\r\nExpect: magic\r\nContent-Length: 1\r\n\r\nx", 417},
		"NUL in a value":      {"GET / HTTP/1.1\r\nHost: a.test\r\nX-A: a\x00b\r\n\r\n", 400},
		"head too large":      {"GET / HTTP/1.1\r\nHost: a.test\r\nX-A: " + strings.Repeat("a", 40<<10) + "\r\n\r\n", 431},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before, _ := rec.requests()
			out, closed := rawExchange(t, f.plain, tc.in)
			assert.True(t, closed, "the connection is closed after the answer")
			resps := responses(out, "GET")
			require.Len(t, resps, 1, "exactly one answer: %q", out)
			assert.Equal(t, tc.status, resps[0].StatusCode)
			after, _ := rec.requests()
			assert.Len(t, after, len(before), "a refused request never reaches the backend")
		})
	}
}

// TestH1ServerPipeliningAndHTTP10: requests pipelined on one connection are
// answered in order, each body framed by its own head; an HTTP/1.0 client
// keeps its connection only when it asks.
func TestH1ServerPipeliningAndHTTP10(t *testing.T) {
	f, rec := weirFront(t)
	in := "GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\n" +
		"POST /2 HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello" +
		"GET /3 HTTP/1.0\r\nHost: a.test\r\nConnection: keep-alive\r\n\r\n" +
		"GET /4 HTTP/1.0\r\nHost: a.test\r\n\r\n" +
		"GET /never HTTP/1.1\r\nHost: a.test\r\n\r\n"
	out, closed := rawExchange(t, f.plain, in)
	assert.True(t, closed, "closed after the HTTP/1.0 request without keep-alive")
	resps := responses(out, "GET")
	require.Len(t, resps, 4, out)
	for _, r := range resps {
		assert.Equal(t, 200, r.StatusCode)
	}
	assert.Equal(t, []string{"keep-alive"}, resps[2].Header["Connection"])
	reqs, bad := rec.requests()
	assert.Empty(t, bad)
	require.Len(t, reqs, 4)
	for i, want := range []string{"/1", "/2", "/3", "/4"} {
		assert.Equal(t, want, reqs[i].target)
	}
	assert.Equal(t, "hello", reqs[1].body)
}

// TestH1ServerExpectContinue: the client gets 100 Continue when the proxy
// starts reading its body, and not before.
func TestH1ServerExpectContinue(t *testing.T) {
	f, rec := weirFront(t)
	c, err := net.Dial("tcp", f.plain)
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "POST /up HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "HTTP/1.1 100 Continue\r\n", line)
	blank, _ := br.ReadString('\n')
	assert.Equal(t, "\r\n", blank)
	io.WriteString(c, "hello")
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	reqs, _ := rec.requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "hello", reqs[0].body)
	assert.Empty(t, reqs[0].header["Expect"], "Expect is hop-by-hop")
}

// TestH1ServerClientLeavingEndsTheExchange: a client that closes its
// connection while the endpoint thinks has its exchange ended, so the
// endpoint's connection is closed rather than held until it answers; for a
// connection's first request and for a later one (served inside the read
// wait, h1server_raw.go, where the watch peeks instead of reading).
func TestH1ServerClientLeavingEndsTheExchange(t *testing.T) {
	for name, before := range map[string]int{"first request": 0, "later request": 2} {
		t.Run(name, func(t *testing.T) {
			gaveUp := make(chan struct{}, 1)
			addr := requestBackend(t, func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
				if req.URL.Path != "/hang" {
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
					return true
				}
				c.SetReadDeadline(time.Now().Add(30 * time.Second))
				if _, err := br.ReadByte(); err != nil && !isTimeout(err) {
					gaveUp <- struct{}{} // Weir gave up on the exchange
				}
				return false
			})
			f := newFront(t, Options{}, ServerOptions{HTTP1: HTTP1Weir})
			f.publish(t, routeTo("a.test", "/", &table.Backend{Name: "slow", Endpoints: []table.Endpoint{{Address: addr}}}))
			c := dialRaw(t, f.plain, strings.Repeat("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", before), 30*time.Second)
			br := bufio.NewReader(c)
			for range before {
				code, _ := readBody(t, br)
				require.Equal(t, 200, code)
			}
			io.WriteString(c, "GET /hang HTTP/1.1\r\nHost: a.test\r\n\r\n")
			time.Sleep(4 * watchDelay) // under way, and watched
			c.Close()
			select {
			case <-gaveUp:
			case <-time.After(20 * time.Second):
				t.Fatal("the exchange with the endpoint outlived the client")
			}
		})
	}
}

// TestH1ServerAllocationBudget is TestProxiedRequestAllocationBudget with
// Weir's HTTP/1.x server in front: the whole request, from the client's
// bytes to the answer's, on a kept-alive connection.
func TestH1ServerAllocationBudget(t *testing.T) {
	addr := fixedBackend(t)
	reg := endpoint.NewRegistry(endpoint.Options{})
	defer reg.Close()
	s := New(Options{}, reg, nil, nil)
	defer s.Close()
	publishOneRoute(t, s, addr)
	front := serveOn(t, NewHTTPServer("", s, ServerOptions{HTTP1: HTTP1Weir}, nil), nil)
	c, err := net.Dial("tcp", front)
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	req := []byte("GET /x?y=1 HTTP/1.1\r\nHost: a.test\r\nUser-Agent: bench\r\nAccept: */*\r\nX-Request-Id: 0123456789abcdef\r\n\r\n")
	buf := make([]byte, 4096)
	ok := true
	run := func() {
		c.Write(req)
		n := 0
		for !bytes.HasSuffix(buf[:n], []byte("\r\n\r\nok\n")) {
			m, err := c.Read(buf[n:])
			if err != nil {
				ok = false
				return
			}
			n += m
		}
	}
	run()
	require.True(t, ok)
	require.True(t, bytes.HasPrefix(buf, []byte("HTTP/1.1 200 OK\r\n")), "%q", buf)
	n := testing.AllocsPerRun(200, run)
	require.True(t, ok)
	t.Logf("%.1f allocations per request through the server", n)
	// 2: the request's head string and the endpoint response's (the request
	// ID when the client sent none adds one; not here). The h1Exchange (the
	// request, its URL, the handler's record and the room of the endpoint's
	// response) is the connection's, reused from its first request on, and
	// so is the map of the endpoint's response fields.
	budget := 2.0
	if raceEnabled {
		budget += 2
	}
	require.LessOrEqual(t, n, budget, "allocations per request")
}

// publishOneRoute puts one route in service on s: host a.test, every path,
// to the endpoint at addr.
func publishOneRoute(t testing.TB, s *Server, addr string) {
	be := &table.Backend{Name: "b", Endpoints: []table.Endpoint{{Address: addr}}}
	tb, err := table.New(1, []*table.Route{{Host: "a.test", Path: table.PathMatch{Type: table.PathPrefix, Value: "/"},
		Action: &table.Action{Split: table.Split{Main: be}}}}, nil)
	require.NoError(t, err)
	s.Publish(tb)
}

// TestH1ServerTLSByALPN: on the TLS port, a client that negotiates
// http/1.1 is served by Weir's HTTP/1.x server and one that negotiates h2
// by x/net/http2's server; both are HTTPS to the handler.
func TestH1ServerTLSByALPN(t *testing.T) {
	f, rec := weirFront(t)
	for _, proto := range []string{"http/1.1", "h2"} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{proto}},
			ForceAttemptHTTP2: proto == "h2"}
		req, _ := http.NewRequest(http.MethodGet, "https://"+f.tls+"/"+proto, nil)
		req.Host = "a.test"
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
		require.NoError(t, err, proto)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		assert.Equal(t, 200, resp.StatusCode, proto)
		assert.Equal(t, map[string]int{"http/1.1": 1, "h2": 2}[proto], resp.ProtoMajor, proto)
	}
	reqs, _ := rec.requests()
	require.Len(t, reqs, 2)
	for _, r := range reqs {
		assert.Equal(t, "https", r.header.Get("X-Forwarded-Proto"), r.target)
	}
}

// TestH1ServerIdleTimeout: a kept-alive connection that sends nothing more
// is closed after the idle timeout, and one still sending its head after
// the read-header timeout is cut off.
func TestH1ServerIdleTimeout(t *testing.T) {
	f := newFront(t, Options{}, ServerOptions{HTTP1: HTTP1Weir, IdleTimeout: 100 * time.Millisecond, ReadHeaderTimeout: 200 * time.Millisecond})
	rec := newRecorder(t)
	f.publish(t, routeTo("a.test", "/", rec.backend("rec")))
	out, closed := rawKeepOpen(t, f.plain, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", 10*time.Second)
	assert.True(t, closed, "closed after the idle timeout, well before the test's deadline")
	assert.Len(t, responses(out, "GET"), 1)
	out, closed = rawKeepOpen(t, f.plain, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\nGET / HTTP/1.1\r\nHost: a", 10*time.Second)
	assert.True(t, closed, "a pipelined head that never ends is cut off")
	assert.Len(t, responses(out, "GET"), 1)
}

// TestH1ServerHeaderValuesPerRequest: pipelined requests, one with more
// header values than its exchange keeps without allocating, each reach the
// endpoint with their own values, repeated fields in order.
func TestH1ServerHeaderValuesPerRequest(t *testing.T) {
	f, rec := weirFront(t)
	many := ""
	for i := range 12 {
		many += fmt.Sprintf("X-F%d: v%d\r\n", i, i)
	}
	in := "GET /few HTTP/1.1\r\nHost: a.test\r\nX-A: 1\r\nX-B: 2\r\nX-A: 3\r\n\r\n" +
		"GET /many HTTP/1.1\r\nHost: a.test\r\n" + many + "X-A: 4\r\nX-A: 5\r\n\r\n" +
		"GET /last HTTP/1.1\r\nHost: a.test\r\nX-A: 6\r\nConnection: close\r\n\r\n"
	out, closed := rawExchange(t, f.plain, in)
	assert.True(t, closed)
	require.Len(t, responses(out, "GET"), 3, out)
	reqs, bad := rec.requests()
	assert.Empty(t, bad)
	require.Len(t, reqs, 3)
	assert.Equal(t, []string{"1", "3"}, reqs[0].header["X-A"])
	assert.Equal(t, []string{"2"}, reqs[0].header["X-B"])
	assert.Equal(t, []string{"4", "5"}, reqs[1].header["X-A"])
	for i := range 12 {
		assert.Equal(t, []string{fmt.Sprintf("v%d", i)}, reqs[1].header[fmt.Sprintf("X-F%d", i)])
	}
	assert.Equal(t, []string{"6"}, reqs[2].header["X-A"])
	// One header map serves the connection's requests: none keeps a field
	// of the one before.
	assert.Nil(t, reqs[1].header["X-B"])
	assert.Nil(t, reqs[2].header["X-B"])
	assert.Nil(t, reqs[2].header["X-F0"])
}

// TestH1ServerNextRequestStartsClean: the requests of a kept-alive
// connection share their memory (the exchange of a bodiless request is
// the next one's); nothing of one reaches the endpoint with the next: not
// its method, target (with its query), request ID, fields or body.
func TestH1ServerNextRequestStartsClean(t *testing.T) {
	f, rec := weirFront(t)
	in := "GET /a?q=1 HTTP/1.1\r\nHost: a.test\r\nX-Request-Id: first\r\nX-Only-First: yes\r\n\r\n" +
		"POST /b HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello" +
		"GET /c HTTP/1.1\r\nHost: a.test\r\n\r\n" +
		"HEAD /d?r=2 HTTP/1.1\r\nHost: a.test\r\nX-Request-Id: fourth\r\n\r\n" +
		"GET /e HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
	out, closed := rawExchange(t, f.plain, in)
	assert.True(t, closed)
	require.Equal(t, 5, strings.Count(out, "HTTP/1.1 200 OK"), out)
	reqs, bad := rec.requests()
	assert.Empty(t, bad)
	require.Len(t, reqs, 5)
	want := []struct{ method, uri, body string }{
		{"GET", "/a?q=1", ""}, {"POST", "/b", "hello"}, {"GET", "/c", ""}, {"HEAD", "/d?r=2", ""}, {"GET", "/e", ""},
	}
	ids := map[string]bool{}
	for i, w := range want {
		r := reqs[i]
		assert.Equal(t, w.method, r.method, "request %d", i)
		assert.Equal(t, w.uri, r.target, "request %d", i)
		assert.Equal(t, w.body, r.body, "request %d", i)
		id := r.header.Get("X-Request-Id")
		assert.NotEmpty(t, id, "request %d", i)
		assert.False(t, ids[id], "request %d repeats request ID %q", i, id)
		ids[id] = true
		if i > 1 {
			assert.Empty(t, r.header.Get("Content-Length"), "request %d", i)
		}
		if i > 0 {
			assert.Empty(t, r.header.Get("X-Only-First"), "request %d", i)
		}
	}
	assert.Equal(t, "first", reqs[0].header.Get("X-Request-Id"))
	assert.Equal(t, "fourth", reqs[3].header.Get("X-Request-Id"))
	assert.Equal(t, "yes", reqs[0].header.Get("X-Only-First"))
}

// TestH1ServerSlowSecondHead: a kept-alive connection's next head that
// arrives in pieces is still read whole and answered.
func TestH1ServerSlowSecondHead(t *testing.T) {
	f, rec := weirFront(t)
	c := dialRaw(t, f.plain, "GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\n", 20*time.Second)
	defer c.Close()
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	for _, part := range []string{"GET /2 HTTP/1.1\r\n", "Host: a.test\r\n", "X-A: 1\r\n\r"} {
		io.WriteString(c, part)
		time.Sleep(20 * time.Millisecond)
	}
	io.WriteString(c, "\n")
	resp, err = http.ReadResponse(br, nil)
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	reqs, _ := rec.requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "/2", reqs[1].target)
	assert.Equal(t, []string{"1"}, reqs[1].header["X-A"])
}

// TestH1ServerEndpointResponsesStartClean: the responses of one client
// connection's requests share their memory (the endpoint response's room
// and header map are the connection's); nothing of one reaches the client
// with the next: not its fields (few, duplicated, more than the room's
// eight values, more than the map kept), nor those of an attempt that was
// retried.
func TestH1ServerEndpointResponsesStartClean(t *testing.T) {
	var retried atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		switch r.URL.Path {
		case "/many":
			for i := range 10 {
				h.Set(fmt.Sprintf("X-F%d", i), fmt.Sprint(i))
			}
			h["X-Dup"] = []string{"a", "b"}
		case "/big":
			for i := range 40 {
				h.Set(fmt.Sprintf("X-B%d", i), fmt.Sprint(i))
			}
		case "/retry":
			if retried.Add(1) == 1 {
				h.Set("X-First-Attempt", "yes")
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			h.Set("X-Second-Attempt", "yes")
		default:
			h.Set("X-Only", r.URL.Query().Get("n"))
		}
		io.WriteString(w, "ok\n")
	})
	var eps []table.Endpoint // two: a retry goes to an endpoint not yet tried
	for range 2 {
		be := httptest.NewServer(h)
		defer be.Close()
		eps = append(eps, table.Endpoint{Address: strings.TrimPrefix(be.URL, "http://")})
	}
	reg := endpoint.NewRegistry(endpoint.Options{})
	defer reg.Close()
	s := New(Options{}, reg, nil, nil)
	defer s.Close()
	b := &table.Backend{Name: "b", Endpoints: eps,
		Retry: table.RetryPolicy{Tries: 2, On: table.Retry503}}
	tb, err := table.New(1, []*table.Route{{Host: "a.test", Path: table.PathMatch{Type: table.PathPrefix, Value: "/"},
		Action: &table.Action{Split: table.Split{Main: b}}}}, nil)
	require.NoError(t, err)
	s.Publish(tb)
	front := serveOn(t, NewHTTPServer("", s, ServerOptions{HTTP1: HTTP1Weir}, nil), nil)

	c := dialRaw(t, front, "", 20*time.Second)
	defer c.Close()
	br := bufio.NewReader(c)
	fields := func(path string) map[string][]string {
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: a.test\r\n\r\n")
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err, path)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode, path)
		got := map[string][]string{}
		for k, v := range resp.Header {
			if strings.HasPrefix(k, "X-") && k != "X-Request-Id" {
				got[k] = v
			}
		}
		return got
	}
	many := map[string][]string{"X-Dup": {"a", "b"}}
	for i := range 10 {
		many[fmt.Sprintf("X-F%d", i)] = []string{fmt.Sprint(i)}
	}
	big := map[string][]string{}
	for i := range 40 {
		big[fmt.Sprintf("X-B%d", i)] = []string{fmt.Sprint(i)}
	}
	assert.Equal(t, map[string][]string{"X-Only": {"1"}}, fields("/one?n=1"))
	assert.Equal(t, many, fields("/many"))
	assert.Equal(t, map[string][]string{"X-Only": {"2"}}, fields("/one?n=2"))
	assert.Equal(t, big, fields("/big"))
	assert.Equal(t, map[string][]string{"X-Only": {"3"}}, fields("/one?n=3"))
	assert.Equal(t, map[string][]string{"X-Second-Attempt": {"yes"}}, fields("/retry"))
	assert.Equal(t, int32(2), retried.Load())
	assert.Equal(t, map[string][]string{"X-Only": {"4"}}, fields("/one?n=4"))
}

// TestH1ServerNextConnectionStartsClean: connections served one after
// another by the same parked worker (h1server_workers.go) share nothing:
// no request reaches the endpoint with an earlier connection's scheme (TLS
// or not), request ID, target or fields, whether that connection ended
// after one request, after two, or without any. A guard for any memory a
// connection might one day leave to the next (docs/performance.md, "Tried
// and dropped").
func TestH1ServerNextConnectionStartsClean(t *testing.T) {
	f, rec := weirFront(t)
	type sent struct {
		n   int
		tls bool
	}
	var want []sent
	for i := range 12 {
		useTLS := i%3 == 1
		in := fmt.Sprintf("GET /%d?q=%d HTTP/1.1\r\nHost: a.test\r\nX-Conn-%d: yes\r\nX-Request-Id: id-%d\r\nConnection: close\r\n\r\n", i, i, i, i)
		if i%4 == 3 { // two requests, the first kept alive, then a third connection with none
			in = fmt.Sprintf("GET /%d?q=%d HTTP/1.1\r\nHost: a.test\r\nX-Conn-%d: yes\r\n\r\n", i, i, i) + in
			want = append(want, sent{i, useTLS})
		}
		want = append(want, sent{i, useTLS})
		c := f.dial(t, useTLS)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, in)
		out, _ := io.ReadAll(c)
		c.Close()
		require.Equal(t, strings.Count(in, "GET "), strings.Count(string(out), "HTTP/1.1 200 OK"), "connection %d: %q", i, out)
		if i%4 == 3 {
			idle := dialRaw(t, f.plain, "", 10*time.Second)
			idle.Close() // a connection that carries no request
		}
	}
	reqs, bad := rec.requests()
	assert.Empty(t, bad)
	require.Len(t, reqs, len(want))
	for k, w := range want {
		r := reqs[k]
		assert.Equal(t, fmt.Sprintf("/%d?q=%d", w.n, w.n), r.target, "request %d", k)
		proto := map[bool]string{true: "https", false: "http"}[w.tls]
		assert.Equal(t, proto, r.header.Get("X-Forwarded-Proto"), "request %d", k)
		for name := range r.header {
			if strings.HasPrefix(name, "X-Conn-") {
				assert.Equal(t, fmt.Sprintf("X-Conn-%d", w.n), name, "request %d", k)
			}
		}
		if k+1 < len(want) && want[k+1].n == w.n {
			assert.NotEqual(t, fmt.Sprintf("id-%d", w.n), r.header.Get("X-Request-Id"), "request %d (the kept one's own ID)", k)
		} else {
			assert.Equal(t, fmt.Sprintf("id-%d", w.n), r.header.Get("X-Request-Id"), "request %d", k)
		}
	}
}
