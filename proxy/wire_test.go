package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/proxy/table"
)

// TestUnsafeConfigurationNeverSplitsAHead: values from configuration
// (annotations, rewrites, redirects) that carry CR, LF or NUL would add
// lines to a head. Whatever let them through, the wire writer refuses the
// head: 500, logged, and nothing reaches the backend.
func TestUnsafeConfigurationNeverSplitsAHead(t *testing.T) {
	f := newFront(t, Options{}, ServerOptions{})
	rec := newRecorder(t)
	be := rec.backend("rec")
	act := func(edit func(a *table.Action)) *table.Action {
		a := &table.Action{Split: table.Split{Main: be}}
		edit(a)
		return a
	}
	route := func(path string, a *table.Action) *table.Route {
		return &table.Route{Host: "a.test", Path: table.PathMatch{Type: table.PathPrefix, Value: path}, Action: a}
	}
	inj := "x\r\nX-Injected: 1"
	f.publish(t,
		route("/vhost", act(func(a *table.Action) { a.HostRewrite = "a.test\r\nX-Injected: 1" })),
		route("/vhost-space", act(func(a *table.Action) { a.HostRewrite = "a.test evil" })),
		route("/prefix", act(func(a *table.Action) { a.Rewrite = &table.Rewrite{Full: "/", ForwardedPrefix: inj} })),
		route("/rewrite", act(func(a *table.Action) { a.Rewrite = &table.Rewrite{Full: "/a HTTP/1.1\r\nX-Injected: 1\r\nX:"} })),
		route("/rewrite-space", act(func(a *table.Action) { a.Rewrite = &table.Rewrite{Full: "/admin /x"} })),
		route("/set", act(func(a *table.Action) {
			a.RequestHeaders = table.HeaderEdits{Set: []table.Header{{Name: "X-A", Value: inj}}}
		})),
		route("/set-nul", act(func(a *table.Action) {
			a.RequestHeaders = table.HeaderEdits{Add: []table.Header{{Name: "X-A", Value: "a\x00b"}}}
		})),
		route("/set-name", act(func(a *table.Action) {
			a.RequestHeaders = table.HeaderEdits{Set: []table.Header{{Name: "X-A\r\nX-Injected", Value: "1"}}}
		})),
		route("/resp", act(func(a *table.Action) {
			a.ResponseHeaders = table.HeaderEdits{Set: []table.Header{{Name: "X-A", Value: inj}}}
		})),
		route("/redirect", &table.Action{Redirect: &table.Redirect{URL: "https://a.test/\r\nSet-Cookie: s=1"}}),
		route("/redirect-path", &table.Action{Redirect: &table.Redirect{Path: "/x\r\nSet-Cookie: s=1"}}),
		route("/", act(func(a *table.Action) {})),
	)
	for _, path := range []string{"/vhost", "/vhost-space", "/prefix", "/rewrite", "/rewrite-space", "/set", "/set-nul",
		"/set-name", "/resp", "/redirect", "/redirect-path"} {
		out, _ := rawExchange(t, f.plain, "GET "+path+" HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
		assert.True(t, strings.HasPrefix(out, "HTTP/1.1 500 "), "%s: %q", path, out)
		assert.NotContains(t, out, "Injected", path)
		assert.NotContains(t, out, "Set-Cookie", path)
	}
	reqs, bad := rec.requests()
	assert.Empty(t, bad)
	for _, r := range reqs {
		assert.NotEqual(t, "/vhost", r.target, "only the response edit reached the backend")
		assert.Empty(t, r.header.Get("X-Injected"))
	}
	assert.Len(t, reqs, 1, "of all the routes, only /resp reached the backend, and its answer was not sent")
	out, _ := rawExchange(t, f.plain, "GET /ok HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
	assert.True(t, strings.HasPrefix(out, "HTTP/1.1 200 "), out)
}

// TestMalformedResponsesAreTheEndpoints: a response head that could be
// read two ways, or that carries a byte that would split the head on its
// way to the client, is a 502 and the endpoint's failure.
func TestMalformedResponsesAreTheEndpoints(t *testing.T) {
	for name, answer := range map[string]string{
		"CL with plus":         "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
		"CL negative":          "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"CL list":              "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello",
		"CL differs":           "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"CL and TE":            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"TE not chunked":       "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nhello",
		"TE in HTTP/1.0":       "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"NUL in value":         "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n",
		"bare CR in value":     "HTTP/1.1 200 OK\r\nX-A: a\rSet-Cookie: s=1\r\nContent-Length: 0\r\n\r\n",
		"bare LF in value":     "HTTP/1.1 200 OK\r\nX-A: a\nSet-Cookie: s=1\r\nContent-Length: 0\r\n\r\n",
		"space in name":        "HTTP/1.1 200 OK\r\nX A: 1\r\nContent-Length: 0\r\n\r\n",
		"space before colon":   "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n",
		"version 1.2":          "HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n",
		"version 2.0":          "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
		"status with letters":  "HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n",
		"status too short":     "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n",
		"NUL in reason":        "HTTP/1.1 200 O\x00K\r\nContent-Length: 0\r\n\r\n",
		"folded line":          "HTTP/1.1 200 OK\r\nX-A: 1\r\n Set-Cookie: s=1\r\nContent-Length: 0\r\n\r\n",
		"bad trailer":          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX A: 1\r\n\r\n",
		"CTL in trailer value": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-A: a\x01\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			f := newFront(t, Options{}, ServerOptions{})
			rt := rawRoute(rawBackend(t, answer, true))
			rt.Action.Split.Main.Passive = table.PassiveHealth{MaxFails: 1, Ejection: time.Hour}
			f.publish(t, rt)
			req, _ := http.NewRequest(http.MethodGet, "http://"+f.plain+"/", nil)
			req.Host = "raw.test"
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil {
					assert.Equal(t, 502, resp.StatusCode)
					assert.Empty(t, resp.Header.Get("Set-Cookie"))
				}
			}
			// (A bad trailer arrives after the body began: the client's
			// connection is broken instead.)
			assert.Len(t, f.ejected(), 1, "the endpoint's failure")
		})
	}
}

// TestUnderscoreHeadersAreDropped: as ingress-nginx, names with "_" are not
// forwarded unless enabled (a backend may read X_User as X-User, a header
// Weir neither checked nor set).
func TestUnderscoreHeadersAreDropped(t *testing.T) {
	for _, keep := range []bool{false, true} {
		f := newFront(t, Options{EnableUnderscoresInHeaders: keep}, ServerOptions{})
		rec := newRecorder(t)
		f.publish(t, routeTo("a.test", "/", rec.backend("rec")))
		rawExchange(t, f.plain, "GET / HTTP/1.1\r\nHost: a.test\r\nX_User: admin\r\nX-Other: 1\r\nConnection: close\r\n\r\n")
		res := h2Send(t, f.plain, false, h2Request("GET", "/", [2]string{"x_user", "admin"}))
		assert.Equal(t, "200", res.status)
		reqs, _ := rec.requests()
		require.Len(t, reqs, 2)
		for _, r := range reqs {
			got := r.header["X_user"] != nil || r.header["X_User"] != nil
			assert.Equal(t, keep, got, "kept=%v: %v", keep, r.header)
		}
		assert.Equal(t, "1", reqs[0].header.Get("X-Other"))
	}
}

// TestIdleWebSocketTunnelCloses: a tunnel with no byte either way for the
// backend's read timeout is closed, as nginx closes it after
// proxy_read_timeout.
func TestIdleWebSocketTunnelCloses(t *testing.T) {
	f := newFront(t, Options{}, ServerOptions{})
	addr := serveConns(t, func(c net.Conn) {
		defer c.Close()
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		io.Copy(io.Discard, c) // then silence, until Weir closes
	})
	be := &table.Backend{Name: "ws", Endpoints: []table.Endpoint{{Address: addr}},
		Timeouts: table.Timeouts{Read: 200 * time.Millisecond}}
	f.publish(t, routeTo("a.test", "/", be))
	start := time.Now()
	out, closed := rawKeepOpen(t, f.plain, "GET / HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 20*time.Second)
	assert.True(t, strings.HasPrefix(out, "HTTP/1.1 101 "), out)
	assert.True(t, closed, "closed by Weir, not by the test's deadline")
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
}

// TestEndpointOnlyUpdateClosesIdleConnections: an endpoint removed by an
// endpoint-only update loses its idle keep-alive connections at once, not
// at the next full publish.
func TestEndpointOnlyUpdateClosesIdleConnections(t *testing.T) {
	f := newFront(t, Options{}, ServerOptions{})
	closed := make(chan struct{}, 1)
	addr := serveConns(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, err := http.ReadRequest(br); err != nil {
				select { // Weir closed the idle connection
				case closed <- struct{}{}:
				default:
				}
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	other := newRecorder(t)
	be := &table.Backend{Name: "b", Endpoints: []table.Endpoint{{Address: addr}}}
	tb, err := table.New(1, []*table.Route{routeTo("a.test", "/", be)}, nil)
	require.NoError(t, err)
	f.srv.Publish(tb)
	out, _ := rawExchange(t, f.plain, "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
	require.True(t, strings.HasPrefix(out, "HTTP/1.1 200 "), out)
	next := tb.WithEndpoints(2, map[int][]table.Endpoint{be.Index(): {{Address: other.addr}}})
	f.srv.PublishEndpoints(next, []int{be.Index()})
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the idle connection to the removed endpoint is still open")
	}
}
