package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"weir.dev/weir/proxy/endpoint"
)

// fixedBackend answers every request on every connection with the same
// bytes, allocating nothing per request, so that an allocation count over a
// proxied request is Weir's alone.
func fixedBackend(t testing.TB) string {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nDate: Sat, 28 Nov 2026 06:00:00 GMT\r\n\r\nok\n")
	return serveConns(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			// Requests here are bodiless: the head ends the request.
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(line) == 2 {
					break
				}
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	})
}

// discardResponse is a ResponseWriter that keeps nothing but its header
// map, cleared between requests.
type discardResponse struct {
	h      http.Header
	status int
}

func (d *discardResponse) Header() http.Header         { return d.h }
func (d *discardResponse) WriteHeader(code int)        { d.status = code }
func (d *discardResponse) Write(p []byte) (int, error) { return len(p), nil }

// The allocation budget of one proxied request through the handler (route
// lookup, split, pick, the upstream exchange on a kept-alive connection,
// the response copy, metrics and the access log), net/http's server and
// client side left out. Allocations are deterministic, so the budget is
// exact but for a little slack: a change that adds allocations to the
// request path fails here and must raise the budget on purpose.
func TestProxiedRequestAllocationBudget(t *testing.T) {
	addr := fixedBackend(t)
	for _, c := range []struct {
		name   string
		log    bool
		budget float64
	}{{"access log off", false, 6}, {"access log on", true, 6}} {
		t.Run(c.name, func(t *testing.T) {
			reg := endpoint.NewRegistry(endpoint.Options{})
			defer reg.Close()
			s := New(Options{AccessLog: c.log, AccessLogWriter: io.Discard}, reg, nil, nil)
			defer s.Close()
			publishOneRoute(t, s, addr)
			req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader([]byte(
				"GET /x?y=1 HTTP/1.1\r\nHost: a.test\r\nUser-Agent: bench\r\nAccept: */*\r\nX-Request-Id: 0123456789abcdef\r\n\r\n"))))
			require.NoError(t, err)
			req.RemoteAddr = "192.0.2.1:40000"
			w := &discardResponse{h: make(http.Header)}
			run := func() {
				clear(w.h)
				s.ServeHTTP(w, req)
			}
			run()
			require.Equal(t, http.StatusOK, w.status)
			n := testing.AllocsPerRun(200, run)
			t.Logf("%.1f allocations per proxied request", n)
			budget := c.budget
			if raceEnabled {
				budget += 2 // pooled buffers dropped at random (race_on_test.go)
			}
			require.LessOrEqual(t, n, budget, "allocations per proxied request")
		})
	}
}
