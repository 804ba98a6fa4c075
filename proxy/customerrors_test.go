package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/proxy/table"
)

// statusServer answers GET /<code> with that status and its own body.
func statusServer(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if code == 0 {
			code = 200
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-From", "backend")
		w.WriteHeader(code)
		fmt.Fprintf(w, "backend says %d", code)
	}))
	t.Cleanup(s.Close)
	return s
}

// pageServer is an error backend that describes the request it got.
func pageServer(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound) // ingress-nginx's example backend answers 404 for unknown pages
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "page %s %s code=%s format=%s uri=%s ns=%s ing=%s svc=%s port=%s rid=%s body=%q",
			r.Method, r.URL.RequestURI(), r.Header.Get("X-Code"), r.Header.Get("X-Format"), r.Header.Get("X-Original-URI"),
			r.Header.Get("X-Namespace"), r.Header.Get("X-Ingress-Name"), r.Header.Get("X-Service-Name"),
			r.Header.Get("X-Service-Port"), r.Header.Get("X-Request-ID"), body)
	}))
	t.Cleanup(s.Close)
	return s
}

func pagesRoute(host string, main, pages *table.Backend, unavailable bool, codes ...int) *table.Route {
	rt := routeTo(host, "/", main)
	rt.Action.ErrorPages = &table.ErrorPages{Backend: pages, Codes: codes, Unavailable: unavailable,
		Namespace: "test", Ingress: "ing"}
	return rt
}

func TestCustomErrorsServeThePageWithTheOriginalStatus(t *testing.T) {
	h := newHarness(t, Options{})
	main := backendOf("web", statusServer(t))
	main.Port = "8080"
	h.publish(pagesRoute("e.test", main, backendOf("pages", pageServer(t)), false, 404, 500, 502))

	req := httptest.NewRequest("GET", "http://e.test/404?q=1", nil)
	req.RequestURI = ""
	req.Header.Set("Accept", "text/html")
	resp, body := h.do(req)
	assert.Equal(t, 404, resp.StatusCode, "the client keeps the backend's status")
	assert.Equal(t, "text/html", resp.Header.Get("Content-Type"), "the page's own headers")
	assert.Empty(t, resp.Header.Get("X-From"), "none of the replaced response's headers")
	assert.Regexp(t, `^page GET /404\?q=1 code=404 format=text/html uri=/404\?q=1 ns=test ing=ing svc=web port=8080 rid=\S+ body=""$`, body)

	req = httptest.NewRequest("POST", "http://e.test/500", strings.NewReader("form=1"))
	req.RequestURI = ""
	resp, body = h.do(req)
	assert.Equal(t, 500, resp.StatusCode)
	assert.Contains(t, body, `page GET /500 code=500 format= `, "the page is fetched with GET and no body")
	assert.Contains(t, body, `body=""`)

	req = httptest.NewRequest("HEAD", "http://e.test/404", nil)
	req.RequestURI = ""
	resp, _ = h.do(req)
	assert.Equal(t, 404, resp.StatusCode)
	assert.Equal(t, "text/html", resp.Header.Get("Content-Type"), "HEAD gets the page's head")

	code, body := h.get("e.test", "/410")
	assert.Equal(t, 410, code)
	assert.Equal(t, "backend says 410", body, "a status not listed passes unchanged")
	code, body = h.get("e.test", "/200")
	assert.Equal(t, 200, code)
	assert.Equal(t, "backend says 200", body)
}

// TestListedNotModifiedKeepsItsHead: custom-http-errors accepts 300-599, so
// 304 may be listed; a 304 has no body to replace, and the page's body
// written after a 304 head broke the connection: every revalidation of a
// cached resource failed. The client gets the endpoint's 304 as it is.
func TestListedNotModifiedKeepsItsHead(t *testing.T) {
	h := newHarness(t, Options{})
	h.publish(pagesRoute("e.test", backendOf("web", statusServer(t)), backendOf("pages", pageServer(t)), false, 304, 404))
	req := httptest.NewRequest("GET", "http://e.test/304", nil)
	req.RequestURI = ""
	resp, body := h.do(req)
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)
	assert.Empty(t, body)
	assert.Equal(t, "backend", resp.Header.Get("X-From"), "the endpoint's own head, not the page's")
	code, _ := h.get("e.test", "/404")
	assert.Equal(t, 404, code)
}

func TestCustomErrorsCoverWeirsOwnAnswers(t *testing.T) {
	h := newHarness(t, Options{})
	dead := httptest.NewServer(http.NotFoundHandler())
	deadBackend := backendOf("dead", dead)
	dead.Close()
	pages := backendOf("pages", pageServer(t))
	empty := &table.Backend{Name: "empty", Service: "empty"}
	h.publish(pagesRoute("dead.test", deadBackend, pages, false, 502, 503),
		pagesRoute("empty.test", empty, pages, false, 503))

	code, body := h.get("dead.test", "/x")
	assert.Equal(t, 502, code)
	assert.Contains(t, body, "page GET /x code=502", "an endpoint that cannot be reached")
	code, body = h.get("empty.test", "/y")
	assert.Equal(t, 503, code)
	assert.Contains(t, body, "page GET /y code=503 ", "a Service without endpoints")
}

func TestCustomErrorsWithoutAWorkingErrorBackendPassTheOriginal(t *testing.T) {
	h := newHarness(t, Options{})
	gone := httptest.NewServer(http.NotFoundHandler())
	pages := backendOf("pages", gone)
	gone.Close()
	h.publish(pagesRoute("e.test", backendOf("web", statusServer(t)), pages, false, 404),
		pagesRoute("none.test", backendOf("web", statusServer(t)), &table.Backend{Name: "nopages"}, false, 404))
	for _, host := range []string{"e.test", "none.test"} {
		code, body := h.get(host, "/404")
		assert.Equal(t, 404, code, host)
		assert.Equal(t, "backend says 404", body, "%s: the backend's own answer when the page cannot be had", host)
	}
}

func TestDefaultBackendTakesRequestsOfServicesWithoutEndpoints(t *testing.T) {
	h := newHarness(t, Options{})
	def := named(t, "fallback")
	empty := &table.Backend{Name: "empty", Service: "empty"}
	emptyDefault := &table.Backend{Name: "empty-default", Service: "empty-default"}
	h.publish(pagesRoute("fb.test", empty, backendOf("fallback", def), true),
		pagesRoute("none.test", empty, emptyDefault, true))

	req := httptest.NewRequest("POST", "http://fb.test/path?a=b", strings.NewReader("x"))
	req.RequestURI = ""
	resp, body := h.do(req)
	assert.Equal(t, 200, resp.StatusCode)
	assert.True(t, strings.HasPrefix(body, "fallback POST /path?a=b"), "the request itself goes to the default backend: %s", body)

	code, _ := h.get("none.test", "/")
	assert.Equal(t, 503, code, "a default backend without endpoints leaves Weir's 503")
}

func TestErrorBackendNeverDelaysPastItsTimeout(t *testing.T) {
	h := newHarness(t, Options{})
	release := make(chan struct{})
	var asked atomic.Int32
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })
	pages := backendOf("hang", hang)
	pages.Timeouts = table.Timeouts{Connect: time.Second, Send: time.Second, Read: 50 * time.Millisecond}
	h.publish(pagesRoute("e.test", backendOf("web", statusServer(t)), pages, false, 404))
	code, body := h.get("e.test", "/404")
	assert.Equal(t, 404, code)
	assert.Equal(t, "backend says 404", body, "an error backend that does not answer in time leaves the original")
	assert.EqualValues(t, 1, asked.Load())
}

// TestAClientThatLeavesIsNotTheErrorPagesFault: a client that goes away
// while its error page is being fetched is no failure of the error
// backend's endpoint (which would let anyone eject the error backend, a
// Service many Ingresses share, by hanging up after each request).
func TestAClientThatLeavesIsNotTheErrorPagesFault(t *testing.T) {
	f := newFront(t, Options{}, ServerOptions{})
	arrived, done := make(chan struct{}, 1), make(chan struct{})
	pages := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select { // held until Weir gives up on it
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(pages.Close)
	t.Cleanup(func() { close(done) })
	pb := backendOf("pages", pages)
	pb.Passive = table.PassiveHealth{MaxFails: 1, Ejection: time.Hour}
	f.publish(t, pagesRoute("e.test", backendOf("web", statusServer(t)), pb, false, 404))

	c := dialRaw(t, f.plain, "GET /404 HTTP/1.1\r\nHost: e.test\r\n\r\n", 10*time.Second)
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the error page was never asked for")
	}
	c.Close()
	pageAddr := pages.Listener.Addr().String()
	require.Eventually(t, func() bool {
		for _, e := range f.reg.Snapshot() {
			if e.Address == pageAddr {
				return e.InFlight == 0
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond, "the request ends when its client leaves")
	assert.Empty(t, f.ejected(), "the client left: no endpoint is blamed")
}
