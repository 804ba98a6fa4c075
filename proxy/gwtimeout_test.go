package proxy

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"weir.dev/weir/proxy/table"
)

// timeouts.request bounds the whole exchange, every attempt included: an
// attempt after a failed one gets only what is left of it.
func TestRequestTimeoutBoundsRetries(t *testing.T) {
	h := newHarness(t, Options{})
	// The first endpoint resets every connection 700ms after the request;
	// the second never answers. With a request timeout of 1s, an answer
	// (504) later than 1.45s means the retry got a whole read timeout
	// again (0.7s + 1s); the margin above 1s is for a loaded machine.
	resets := serveConns(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.Read(buf)
		time.Sleep(700 * time.Millisecond)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
	})
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })
	b := &table.Backend{Name: "two", Service: "two", Namespace: "test",
		Endpoints: []table.Endpoint{{Address: resets}, {Address: hang.Listener.Addr().String()}},
		Retry:     table.RetryPolicy{Tries: 3, On: table.RetryError | table.RetryTimeout}}
	a := weighted(table.WeightedBackend{Backend: b, Weight: 1})
	a.Timeouts.Request = time.Second
	h.publishGateway(gwRoute("t.test", "/", a))
	for i := 0; i < 4; i++ { // least-connections: make sure the resetting endpoint is tried first at least once
		start := time.Now()
		code, _ := h.get("t.test", "/")
		took := time.Since(start)
		assert.Equal(t, 504, code)
		assert.Less(t, took, 1450*time.Millisecond, "attempt %d: the request timeout is 1s", i)
	}
}
