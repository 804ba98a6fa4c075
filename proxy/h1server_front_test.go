package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// startFront serves h like httptest.NewServer, but with the HTTP/1.x
// server Weir uses by default (DefaultHTTP1), so that the handler tests
// run against it. The httptest server itself (for its URL and Client)
// listens on a listener that never accepts.
func startFront(t testing.TB, h http.Handler) *httptest.Server {
	front := httptest.NewUnstartedServer(h)
	ln := front.Listener
	idle := newChanListener()
	idle.addr = ln.Addr()
	front.Listener = idle
	front.Start()
	srv := NewHTTPServer("", h, ServerOptions{}, nil)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return front
}
