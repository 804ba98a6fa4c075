package proxy

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/proxy/table"
)

// bodyBackend serves large bodies on a raw socket: GET /big?n returns n
// patterned bytes, POST /echo returns the request's body; GET /stall?n
// declares n bytes, sends a tenth and waits; GET /short?n sends a tenth and
// closes. conns counts the connections it accepted.
type bodyBackend struct {
	addr  string
	conns atomic.Int32
	stop  chan struct{}
}

func newBodyBackend(t *testing.T) *bodyBackend {
	b := &bodyBackend{stop: make(chan struct{})}
	t.Cleanup(func() { close(b.stop) })
	b.addr = serveConns(t, b.serve)
	return b
}

// bigPattern is pattern(n) (h2conn_test.go), made once for the largest
// body: a slow machine takes a while over 64 MiB.
func bigPattern(n int) []byte { return patternBytes()[:n] }

var patternBytes = sync.OnceValue(func() []byte { return pattern(64 << 20) })

func (b *bodyBackend) serve(c net.Conn) {
	defer c.Close()
	b.conns.Add(1)
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return
		}
		n, _ := strconv.Atoi(req.URL.RawQuery)
		switch req.URL.Path {
		case "/echo":
		case "/big":
			body = bigPattern(n)
		case "/stall", "/short":
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", n)
			c.Write(bigPattern(n)[:n/10])
			if req.URL.Path == "/stall" {
				<-b.stop
			}
			return
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(body))
		if _, err := c.Write(body); err != nil {
			return
		}
	}
}

// bodyRoute routes host to b, whose endpoint is ejected at its first
// failure and waited for read at most each read.
func bodyRoute(b *bodyBackend, host string, read time.Duration) *table.Route {
	patternBytes()
	be := &table.Backend{Name: host, Endpoints: []table.Endpoint{{Address: b.addr}},
		Timeouts: table.Timeouts{Read: read},
		Passive:  table.PassiveHealth{MaxFails: 1, Ejection: time.Hour}}
	return routeTo(host, "/", be)
}

// Large bodies arrive byte for byte both ways, spliced (plain HTTP/1.1)
// and copied (TLS, HTTP/2), sizes around the splicing threshold and the
// buffers included; the access log counts every byte sent; the endpoint
// connection carries every request of a keep-alive client.
func TestLargeBodiesArriveWhole(t *testing.T) {
	logs := &lockedBuffer{}
	f := newFront(t, Options{AccessLog: true, AccessLogWriter: logs}, ServerOptions{})
	b := newBodyBackend(t)
	f.publish(t, bodyRoute(b, "big.test", 20*time.Second))
	plain := &http.Client{Transport: &http.Transport{}}
	secure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}
	sizes := []int{spliceMin - 1, spliceMin, spliceMin + 1, 1<<20 + 3, 5 << 20}
	var sent int
	for _, size := range sizes {
		for _, tc := range []struct {
			c    *http.Client
			base string
		}{{plain, "http://" + f.plain}, {secure, "https://" + f.tls}} {
			req, _ := http.NewRequest("GET", tc.base+"/big?"+strconv.Itoa(size), nil)
			req.Host = "big.test"
			resp, err := tc.c.Do(req)
			require.NoError(t, err)
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err, "%s %d", tc.base, size)
			assert.True(t, bytes.Equal(bigPattern(size), got), "%s: %d bytes, got %d", tc.base, size, len(got))

			req, _ = http.NewRequest("POST", tc.base+"/echo", bytes.NewReader(bigPattern(size)))
			req.Host = "big.test"
			resp, err = tc.c.Do(req)
			require.NoError(t, err)
			got, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			assert.True(t, bytes.Equal(bigPattern(size), got), "echo %s: %d bytes, got %d", tc.base, size, len(got))
			sent += 2 * size
		}
	}
	// The plain client used one connection in turn; the endpoint's too are
	// kept (at most one more for the HTTP/2 client's requests in parallel).
	assert.LessOrEqual(t, b.conns.Load(), int32(2), "endpoint connections reused after spliced bodies")
	f.srv.Close() // writes out the access log
	lines := logs.lines(t)
	require.Len(t, lines, 4*len(sizes))
	total := 0
	for _, l := range lines {
		assert.EqualValues(t, 200, l["status"])
		total += int(l["bytes"].(float64))
	}
	assert.Equal(t, sent, total, "access log bytes")
}

// An endpoint that stalls or closes in the middle of a large body is at
// fault: the client's connection is cut before the declared length, and
// passive health ejects the endpoint.
func TestEndpointFailingMidBodyIsBlamed(t *testing.T) {
	for _, path := range []string{"/stall", "/short"} {
		t.Run(path, func(t *testing.T) {
			f := newFront(t, Options{}, ServerOptions{})
			b := newBodyBackend(t)
			f.publish(t, bodyRoute(b, "big.test", 2*time.Second))
			out, closed := rawExchange(t, f.plain, "GET "+path+"?1048576 HTTP/1.1\r\nHost: big.test\r\n\r\n")
			assert.True(t, closed, "client connection cut")
			resps := bufio.NewReader(bytes.NewReader([]byte(out)))
			resp, err := http.ReadResponse(resps, nil)
			require.NoError(t, err)
			got, err := io.ReadAll(resp.Body)
			assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
			assert.Equal(t, bigPattern(1 << 20)[:len(got)], got)
			require.Eventually(t, func() bool { return len(f.ejected()) == 1 }, 20*time.Second, 10*time.Millisecond)
			assert.Equal(t, []string{b.addr}, f.ejected())
		})
	}
}

// A client that leaves in the middle of a large body is not the endpoint's
// fault.
func TestClientLeavingMidBodyIsNotBlamed(t *testing.T) {
	f := newFront(t, Options{}, ServerOptions{})
	b := newBodyBackend(t)
	f.publish(t, bodyRoute(b, "big.test", 20*time.Second))
	c := dialRaw(t, f.plain, "GET /big?67108864 HTTP/1.1\r\nHost: big.test\r\n\r\n", 20*time.Second)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, err = io.ReadFull(resp.Body, make([]byte, 1<<20))
	require.NoError(t, err)
	c.Close() // unread bytes: a reset
	require.Eventually(t, func() bool { return inFlight(f.srv) == 0 }, 20*time.Second, 10*time.Millisecond)
	assert.Empty(t, f.ejected())
	out, _ := rawExchange(t, f.plain, "GET /big?10 HTTP/1.1\r\nHost: big.test\r\nConnection: close\r\n\r\n")
	assert.Contains(t, out, "HTTP/1.1 200 ")
}
