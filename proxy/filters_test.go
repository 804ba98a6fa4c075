package proxy

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/proxy/cors"
	"weir.dev/weir/proxy/table"
)

// Through the proxy, the Gateway API's data plane: weighted backendRefs,
// the 500 answers, every HTTPRoute filter, mirroring and timeouts.

// echoHeaders answers with its name and the request's headers as JSON.
func echoHeaders(t *testing.T, name string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", name)
		w.Header().Set("X-Upstream-Only", "kept")
		w.Header().Set("Access-Control-Allow-Origin", "https://evil.example")
		json.NewEncoder(w).Encode(map[string]any{"name": name, "host": r.Host, "uri": r.RequestURI, "headers": r.Header})
	}))
	t.Cleanup(s.Close)
	return s
}

type echoed struct {
	Name    string
	Host    string
	URI     string
	Headers http.Header
}

func (h *harness) publishGateway(routes ...*table.Route) {
	h.t.Helper()
	h.gen++
	tb, err := table.NewWithOptions(h.gen, routes, nil, table.Options{GatewayHosts: true})
	require.NoError(h.t, err)
	h.srv.Publish(tb)
}

func gwRoute(host, path string, a *table.Action) *table.Route {
	return &table.Route{Host: host, Path: table.PathMatch{Type: table.PathPrefix, Value: path}, Action: a,
		Source: table.Source{Kind: "HTTPRoute", Namespace: "test", Name: "r"}}
}

func weighted(ws ...table.WeightedBackend) *table.Action {
	return &table.Action{Split: table.Split{Weighted: ws}}
}

func (h *harness) echo(req *http.Request) (*http.Response, echoed) {
	h.t.Helper()
	resp, body := h.do(req)
	var e echoed
	if resp.StatusCode == 200 {
		require.NoError(h.t, json.Unmarshal([]byte(body), &e), body)
	}
	return resp, e
}

func newReq(method, url string, hdr ...string) *http.Request {
	req := httptest.NewRequest(method, url, nil)
	req.RequestURI = ""
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	return req
}

func TestWeightedBackendRefsSplit80To20(t *testing.T) {
	h := newHarness(t, Options{})
	a, b, z := named(t, "a"), named(t, "b"), named(t, "zero")
	h.publishGateway(gwRoute("w.test", "/", weighted(
		table.WeightedBackend{Backend: backendOf("a", a), Weight: 80},
		table.WeightedBackend{Backend: backendOf("b", b), Weight: 20},
		table.WeightedBackend{Backend: backendOf("zero", z), Weight: 0})))
	counts := map[string]int{}
	const n = 10000
	for i := 0; i < n; i++ {
		code, body := h.get("w.test", "/")
		require.Equal(t, 200, code)
		counts[strings.Fields(body)[0]]++
	}
	assert.InDelta(t, 0.80, float64(counts["a"])/n, 0.015)
	assert.InDelta(t, 0.20, float64(counts["b"])/n, 0.015)
	assert.Zero(t, counts["zero"], "weight 0 is never chosen")
}

func TestNoBackendRefsAndInvalidRefsAnswer500(t *testing.T) {
	h := newHarness(t, Options{})
	a := named(t, "a")
	h.publishGateway(
		gwRoute("none.test", "/", weighted()),
		gwRoute("half.test", "/", weighted(
			table.WeightedBackend{Backend: nil, Weight: 1},
			table.WeightedBackend{Backend: backendOf("a", a), Weight: 1})),
		gwRoute("zero.test", "/", weighted(table.WeightedBackend{Backend: backendOf("a", a), Weight: 0})),
		gwRoute("rule.test", "/", &table.Action{Respond: &table.Respond{Status: 500, Body: "route rule not supported"}}))
	for _, host := range []string{"none.test", "zero.test", "rule.test"} {
		code, _ := h.get(host, "/")
		assert.Equal(t, 500, code, host)
	}
	got := map[int]int{}
	for i := 0; i < 400; i++ {
		code, _ := h.get("half.test", "/")
		got[code]++
	}
	assert.Equal(t, 400, got[200]+got[500], "only 200 or 500: %v", got)
	assert.InDelta(t, 200, got[500], 50, "the invalid ref's share answers 500: %v", got)
}

func TestHeaderModifiers(t *testing.T) {
	h := newHarness(t, Options{})
	e := echoHeaders(t, "e")
	a := weighted(table.WeightedBackend{Backend: backendOf("e", e), Weight: 1,
		Filters: &table.BackendFilters{RequestHeaders: table.HeaderEdits{Set: []table.Header{{Name: "X-Per-Backend", Value: "yes"}}},
			ResponseHeaders: table.HeaderEdits{Add: []table.Header{{Name: "X-Backend-Resp", Value: "b"}}}}})
	a.RequestHeaders = table.HeaderEdits{
		Set:    []table.Header{{Name: "x-set", Value: "new"}},
		Add:    []table.Header{{Name: "X-Add", Value: "second"}},
		Remove: []string{"x-remove"}}
	a.ResponseHeaders = table.HeaderEdits{Set: []table.Header{{Name: "X-Resp", Value: "r"}}, Remove: []string{"x-upstream-only"}}
	h.publishGateway(gwRoute("h.test", "/", a))
	resp, got := h.echo(newReq("GET", "http://h.test/", "X-Set", "old", "X-Add", "first", "X-REMOVE", "a", "x-remove", "b"))
	require.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, []string{"new"}, got.Headers["X-Set"])
	assert.Equal(t, []string{"first", "second"}, got.Headers["X-Add"], "add appends")
	assert.NotContains(t, got.Headers, "X-Remove", "every case variant removed")
	assert.Equal(t, []string{"yes"}, got.Headers["X-Per-Backend"])
	assert.Equal(t, "r", resp.Header.Get("X-Resp"))
	assert.Equal(t, "b", resp.Header.Get("X-Backend-Resp"))
	assert.Empty(t, resp.Header.Get("X-Upstream-Only"))
}

func TestRequestRedirect(t *testing.T) {
	h := newHarness(t, Options{})
	red := func(path string, rd *table.Redirect) *table.Route {
		return gwRoute("r.test", path, &table.Action{Redirect: rd})
	}
	h.publishGateway(
		red("/host", &table.Redirect{Status: 302, Host: "other.test", Port: 80}),
		red("/https", &table.Redirect{Status: 301, Scheme: "https", Port: 443}),
		red("/port", &table.Redirect{Status: 308, Port: 8083, PrefixPath: "/moved"}),
		red("/full", &table.Redirect{Status: 303, Port: 80, Path: "/elsewhere"}),
		red("/listener", &table.Redirect{Status: 307, Port: 8080}))
	client := h.front.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, tc := range []struct{ path, status, location string }{
		{"/host/x?q=1", "302", "http://other.test/host/x?q=1"},
		{"/https", "301", "https://r.test/https"},
		{"/port/a/b", "308", "http://r.test:8083/moved/a/b"},
		{"/full/y", "303", "http://r.test/elsewhere"},
		{"/listener", "307", "http://r.test:8080/listener"},
	} {
		resp, _ := h.do(newReq("GET", "http://r.test"+tc.path))
		assert.Equal(t, tc.status, fmt.Sprint(resp.StatusCode), tc.path)
		assert.Equal(t, tc.location, resp.Header.Get("Location"), tc.path)
	}
}

func TestURLRewrite(t *testing.T) {
	h := newHarness(t, Options{})
	e := echoHeaders(t, "e")
	b := backendOf("e", e)
	prefix := weighted(table.WeightedBackend{Backend: b, Weight: 1})
	prefix.Rewrite, prefix.HostRewrite = &table.Rewrite{Prefix: "/new"}, "rewritten.test"
	full := weighted(table.WeightedBackend{Backend: b, Weight: 1})
	full.Rewrite = &table.Rewrite{Full: "/one"}
	root := weighted(table.WeightedBackend{Backend: b, Weight: 1})
	root.Rewrite = &table.Rewrite{Prefix: "/"}
	h.publishGateway(gwRoute("u.test", "/old", prefix), gwRoute("u.test", "/full", full), gwRoute("u.test", "/strip", root))
	for _, tc := range []struct{ path, uri, host string }{
		{"/old/a?x=1", "/new/a?x=1", "rewritten.test"},
		{"/old", "/new", "rewritten.test"},
		{"/full/any/thing", "/one", "u.test"},
		{"/strip/a", "/a", "u.test"},
		{"/strip", "/", "u.test"},
	} {
		_, got := h.echo(newReq("GET", "http://u.test"+tc.path))
		assert.Equal(t, tc.uri, got.URI, tc.path)
		assert.Equal(t, tc.host, got.Host, tc.path)
	}
}

func TestCORS(t *testing.T) {
	h := newHarness(t, Options{})
	e := echoHeaders(t, "e")
	a := weighted(table.WeightedBackend{Backend: backendOf("e", e), Weight: 1})
	a.CORS = cors.NewGateway(cors.GatewayConfig{AllowOrigins: []string{"https://www.foo.test", "https://*.bar.test"}, AllowMethods: []string{"GET", "OPTIONS"},
		AllowHeaders: []string{"x-header-1"}, ExposeHeaders: []string{"x-header-3"}, AllowCredentials: true, MaxAge: time.Hour})
	any := weighted(table.WeightedBackend{Backend: backendOf("e", e), Weight: 1})
	any.CORS = cors.NewGateway(cors.GatewayConfig{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}})
	creds := weighted(table.WeightedBackend{Backend: backendOf("e", e), Weight: 1})
	creds.CORS = cors.NewGateway(cors.GatewayConfig{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}, AllowHeaders: []string{"*"}, AllowCredentials: true})
	h.publishGateway(gwRoute("c.test", "/", a), gwRoute("c.test", "/any", any), gwRoute("c.test", "/creds", creds))

	resp, _ := h.do(newReq("OPTIONS", "http://c.test/x", "Origin", "https://a.b.bar.test", "Access-Control-Request-Method", "GET"))
	assert.Equal(t, 204, resp.StatusCode)
	assert.Equal(t, "https://a.b.bar.test", resp.Header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "GET, OPTIONS", resp.Header.Get("Access-Control-Allow-Methods"))
	assert.Equal(t, "x-header-1", resp.Header.Get("Access-Control-Allow-Headers"))
	assert.Equal(t, "3600", resp.Header.Get("Access-Control-Max-Age"))
	assert.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"))

	resp, _ = h.do(newReq("OPTIONS", "http://c.test/x", "Origin", "https://bar.test", "Access-Control-Request-Method", "GET"))
	assert.Equal(t, 204, resp.StatusCode, "a preflight never reaches the backend")
	assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"), "origin not allowed")

	resp, got := h.echo(newReq("GET", "http://c.test/x", "Origin", "https://www.foo.test"))
	assert.Equal(t, "e", got.Name)
	assert.Equal(t, []string{"https://www.foo.test"}, resp.Header.Values("Access-Control-Allow-Origin"), "the endpoint's own value is dropped")
	assert.Equal(t, "x-header-3", resp.Header.Get("Access-Control-Expose-Headers"))

	resp, _ = h.do(newReq("GET", "http://c.test/x", "Origin", "https://evil.test"))
	assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))

	resp, _ = h.do(newReq("OPTIONS", "http://c.test/any", "Origin", "https://x.test:8443", "Access-Control-Request-Method", "PUT"))
	assert.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "PUT", resp.Header.Get("Access-Control-Allow-Methods"))
	assert.Empty(t, resp.Header.Get("Access-Control-Allow-Credentials"))

	resp, _ = h.do(newReq("OPTIONS", "http://c.test/creds", "Origin", "https://o.test", "Access-Control-Request-Method", "PUT",
		"Access-Control-Request-Headers", "x-a, x-b"))
	assert.Equal(t, "https://o.test", resp.Header.Get("Access-Control-Allow-Origin"), "any origin with credentials: echoed")
	assert.Equal(t, "x-a, x-b", resp.Header.Get("Access-Control-Allow-Headers"))
	assert.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"))
}

func TestMirrorGetsACopyAndNeverSlowsTheRequest(t *testing.T) {
	h := newHarness(t, Options{})
	main := named(t, "main")
	release := make(chan struct{})
	var mirrored atomic.Int32
	var body atomic.Value
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 16)
		n, _ := r.Body.Read(b)
		body.Store(r.Method + " " + r.URL.Path + " " + string(b[:n]))
		mirrored.Add(1)
		<-release // the mirror stays busy until the test ends
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	dead := httptest.NewServer(http.NotFoundHandler())
	deadBackend := backendOf("dead", dead)
	dead.Close()
	a := weighted(table.WeightedBackend{Backend: backendOf("main", main), Weight: 1})
	a.Mirrors = []table.Mirror{{Backend: backendOf("slow", slow)}, {Backend: deadBackend}}
	never := weighted(table.WeightedBackend{Backend: backendOf("main", main), Weight: 1})
	never.Mirrors = []table.Mirror{{Backend: backendOf("slow", slow), Numerator: 0, Denominator: 100}}
	h.publishGateway(gwRoute("m.test", "/", a), gwRoute("m.test", "/never", never))

	req := httptest.NewRequest("POST", "http://m.test/post", strings.NewReader("hello"))
	req.RequestURI = ""
	resp, got := h.do(req)
	require.Equal(t, 200, resp.StatusCode, "the real request is answered while the mirror is still busy")
	assert.True(t, strings.HasPrefix(got, "main POST /post"), got)
	require.Eventually(t, func() bool { return mirrored.Load() == 1 }, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, "POST /post hello", body.Load())
	for i := 0; i < 20; i++ {
		code, _ := h.get("m.test", "/never")
		require.Equal(t, 200, code)
	}
	assert.EqualValues(t, 1, mirrored.Load(), "a 0/100 share mirrors nothing")

	counter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d", n)
	}))
	t.Cleanup(counter.Close)
	bigRoute := weighted(table.WeightedBackend{Backend: backendOf("counter", counter), Weight: 1})
	bigRoute.Mirrors = []table.Mirror{{Backend: backendOf("slow", slow)}}
	h.publishGateway(gwRoute("m.test", "/", bigRoute))
	for _, n := range []int{100, maxMirrorBody + 1} {
		req = httptest.NewRequest("POST", "http://m.test/big", strings.NewReader(strings.Repeat("x", n)))
		req.RequestURI = ""
		resp, got = h.do(req)
		require.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, fmt.Sprint(n), got, "the backend gets the whole body")
	}
	require.Eventually(t, func() bool { return mirrored.Load() == 2 }, 5*time.Second, 5*time.Millisecond)
	assert.EqualValues(t, 2, mirrored.Load(), "a body over 64 KiB is not copied")
}

func TestRouteTimeoutsAnswer504(t *testing.T) {
	h := newHarness(t, Options{})
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })
	backendReq := weighted(table.WeightedBackend{Backend: backendOf("hang", hang), Weight: 1})
	backendReq.Timeouts.BackendRequest = 50 * time.Millisecond
	request := weighted(table.WeightedBackend{Backend: backendOf("hang", hang), Weight: 1})
	request.Timeouts.Request = 50 * time.Millisecond
	h.publishGateway(gwRoute("t.test", "/backend", backendReq), gwRoute("t.test", "/request", request))
	for _, p := range []string{"/backend", "/request"} {
		code, _ := h.get("t.test", p)
		assert.Equal(t, 504, code, p)
	}
}

func TestGatewayHostsThroughTheProxy(t *testing.T) {
	h := newHarness(t, Options{})
	wild, exact, deep := named(t, "wild"), named(t, "exact"), named(t, "deep")
	one := func(s *httptest.Server, name string) *table.Action {
		return weighted(table.WeightedBackend{Backend: backendOf(name, s), Weight: 1})
	}
	h.gen++
	tb, err := table.NewWithOptions(h.gen, []*table.Route{
		gwRoute("*.example.test", "/", one(wild, "wild")),
		gwRoute("a.example.test", "/", one(exact, "exact")),
		gwRoute("*.deep.example.test", "/", one(deep, "deep")),
	}, nil, table.Options{GatewayHosts: true, Hosts: []string{"*.empty.example.test"}})
	require.NoError(t, err)
	h.srv.Publish(tb)
	for host, want := range map[string]string{
		"a.example.test": "exact", "b.example.test": "wild", "x.y.example.test": "wild",
		"z.deep.example.test": "deep", "a.b.deep.example.test": "deep", "B.Example.Test:8080": "wild",
	} {
		code, body := h.get(host, "/")
		assert.Equal(t, 200, code, host)
		assert.True(t, strings.HasPrefix(body, want+" "), "%s: %s", host, body)
	}
	for _, host := range []string{"example.test", "a.empty.example.test"} {
		code, _ := h.get(host, "/")
		assert.Equal(t, 404, code, "%s: no bare match, no fall-through from a listener's own host", host)
	}
}
