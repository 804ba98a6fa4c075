package proxy

import (
	"bufio"
	"context"
	"fmt"
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

// Requests after a connection's first are served inside the connection's
// read wait (h1server_raw.go). These tests make the second and later
// requests of one connection do what the first ones do in the other tests.

// requestBackend is an endpoint that reads each request on a connection
// and hands it to answer, until answer returns false or the client leaves.
func requestBackend(t testing.TB, answer func(c net.Conn, br *bufio.Reader, req *http.Request) bool) string {
	t.Helper()
	return serveConns(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil || !answer(c, br, req) {
				return
			}
		}
	})
}

// pacedBackend answers every request with its method, body and path
// ("GET /x", "POST hello /x"), after delay for paths that begin with
// "/slow" (or when release is closed).
func pacedBackend(t *testing.T, delay time.Duration, release <-chan struct{}) string {
	return requestBackend(t, func(c net.Conn, br *bufio.Reader, req *http.Request) bool {
		b, _ := io.ReadAll(req.Body)
		if strings.HasPrefix(req.URL.Path, "/slow") {
			select {
			case <-time.After(delay):
			case <-release:
			}
		}
		if req.Header.Get("Upgrade") == "websocket" {
			fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", req.Header.Get("Sec-WebSocket-Key"))
			io.Copy(c, br) // echo
			return false
		}
		body := req.URL.Path
		if len(b) > 0 {
			body = string(b) + " " + body
		}
		body = req.Method + " " + body
		_, err := fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		return err == nil
	})
}

func pacedFront(t *testing.T, sopts ServerOptions, addr string) *front {
	sopts.HTTP1 = HTTP1Weir
	f := newFront(t, Options{}, sopts)
	f.publish(t, routeTo("a.test", "/", &table.Backend{Name: "paced", Endpoints: []table.Endpoint{{Address: addr}}}))
	return f
}

// readBody reads one answer on br and returns its status and body.
func readBody(t *testing.T, br *bufio.Reader) (int, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestH1ServerRequestArrivingWhileAnotherIsServed: a client that sends its
// next request while the one before is still being served (not in the same
// packet: pipelined over time) has it answered as soon as the first is. The
// arrival is recorded while the connection is not waiting; losing it would
// leave the request unread until the wait inside the read wait ended (here
// set far beyond the test's deadline).
func TestH1ServerRequestArrivingWhileAnotherIsServed(t *testing.T) {
	f := pacedFront(t, ServerOptions{IdleTimeout: time.Hour, rawIdleWait: time.Hour}, pacedBackend(t, 150*time.Millisecond, nil))
	c := dialRaw(t, f.plain, "GET /first HTTP/1.1\r\nHost: a.test\r\n\r\n", 10*time.Second)
	defer c.Close()
	br := bufio.NewReader(c)
	_, body := readBody(t, br)
	require.Equal(t, "GET /first", body)
	for i := range 3 {
		io.WriteString(c, fmt.Sprintf("GET /slow%d HTTP/1.1\r\nHost: a.test\r\n\r\n", i))
		time.Sleep(30 * time.Millisecond) // the slow request is under way
		io.WriteString(c, fmt.Sprintf("GET /next%d HTTP/1.1\r\nHost: a.test\r\n\r\n", i))
		code, body := readBody(t, br)
		assert.Equal(t, 200, code)
		assert.Equal(t, fmt.Sprintf("GET /slow%d", i), body)
		code, body = readBody(t, br)
		assert.Equal(t, 200, code)
		assert.Equal(t, fmt.Sprintf("GET /next%d", i), body, "answered without waiting for more from the client")
	}
	// A client that waits quietly through a slow answer is not taken for
	// one that left.
	io.WriteString(c, "GET /slow-alone HTTP/1.1\r\nHost: a.test\r\n\r\n")
	code, body := readBody(t, br)
	assert.Equal(t, 200, code)
	assert.Equal(t, "GET /slow-alone", body)
}

// TestH1ServerUpgradeAndBodiesOnAKeptConnection: a kept-alive connection
// carries requests with bodies between bodiless ones and, last, a WebSocket
// upgrade; each is answered, and the tunnel carries bytes both ways. (A
// chunked request ends its connection by design: handler.go.)
func TestH1ServerUpgradeAndBodiesOnAKeptConnection(t *testing.T) {
	f := pacedFront(t, ServerOptions{}, pacedBackend(t, 0, nil))
	c := dialRaw(t, f.plain, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n", 10*time.Second)
	defer c.Close()
	br := bufio.NewReader(c)
	_, body := readBody(t, br)
	assert.Equal(t, "GET /", body)
	steps := []struct{ in, want string }{
		{"GET /a HTTP/1.1\r\nHost: a.test\r\n\r\n", "GET /a"},
		{"POST /b HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello", "POST hello /b"},
		{"GET /c HTTP/1.1\r\nHost: a.test\r\n\r\n", "GET /c"},
		{"PUT /d HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\n\r\nabc", "PUT abc /d"},
		{"GET /e HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0\r\n\r\n", "GET /e"},
	}
	for _, s := range steps {
		// A body comes in a write of its own, a moment after its head: a
		// request served inside the read wait could not read it.
		head, body, _ := strings.Cut(s.in, "\r\n\r\n")
		io.WriteString(c, head+"\r\n\r\n")
		if body != "" {
			time.Sleep(20 * time.Millisecond)
			io.WriteString(c, body)
		}
		code, body := readBody(t, br)
		assert.Equal(t, 200, code)
		assert.Equal(t, s.want, body)
	}
	io.WriteString(c, "GET /chat HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: k1\r\nSec-WebSocket-Version: 13\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, 101, resp.StatusCode)
	for _, msg := range []string{"hello", "world"} {
		io.WriteString(c, msg)
		buf := make([]byte, len(msg))
		_, err := io.ReadFull(br, buf)
		require.NoError(t, err)
		assert.Equal(t, msg, string(buf))
	}
}

// TestH1ServerShutdownWithKeptConnections: Shutdown closes a kept-alive
// connection waiting for its next request at once, lets one whose later
// request is under way finish it, and returns when both are gone.
func TestH1ServerShutdownWithKeptConnections(t *testing.T) {
	release := make(chan struct{})
	f := pacedFront(t, ServerOptions{}, pacedBackend(t, time.Minute, release))
	srv := NewHTTPServer("", f.srv, ServerOptions{HTTP1: HTTP1Weir, IdleTimeout: time.Minute}, nil)
	addr := serveOn(t, srv, nil)
	two := "GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\nGET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n"
	idle := dialRaw(t, addr, two, 10*time.Second)
	defer idle.Close()
	busy := dialRaw(t, addr, two, 10*time.Second)
	defer busy.Close()
	idleR, busyR := bufio.NewReader(idle), bufio.NewReader(busy)
	for range 2 {
		readBody(t, idleR)
		readBody(t, busyR)
	}
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: a.test\r\n\r\n")
	require.Eventually(t, func() bool { return f.srv.metrics.inFlight != nil && inFlight(f.srv) == 1 }, 5*time.Second, 5*time.Millisecond)
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- Shutdown(ctx, srv)
	}()
	_, err := idleR.ReadByte()
	assert.ErrorIs(t, err, io.EOF, "the idle connection is closed, not kept until its idle timeout")
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) with a request under way", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	code, body := readBody(t, busyR)
	assert.Equal(t, 200, code)
	assert.Equal(t, "GET /slow", body)
	assert.NoError(t, <-shut)
	_, err = busyR.ReadByte()
	assert.ErrorIs(t, err, io.EOF, "closed once its request is answered")
}

// TestH1ServerHalfCloseAfterALaterRequest: a client that ends its side of
// the connection right after a later request gets its answer and then the
// connection's end within twice the wait inside the read wait (set to
// 200 ms here), not after the idle timeout
// (the end may have come before the read that took the request, which the
// wait after the answer is not told of again).
func TestH1ServerHalfCloseAfterALaterRequest(t *testing.T) {
	f := pacedFront(t, ServerOptions{IdleTimeout: time.Minute, rawIdleWait: 200 * time.Millisecond}, pacedBackend(t, 0, nil))
	for i := range 5 {
		c := dialRaw(t, f.plain, "GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\n", 30*time.Second)
		br := bufio.NewReader(c)
		readBody(t, br)
		io.WriteString(c, "GET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n")
		c.(*net.TCPConn).CloseWrite()
		code, body := readBody(t, br)
		assert.Equal(t, 200, code)
		assert.Equal(t, "GET /2", body)
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, err := br.ReadByte()
		assert.ErrorIs(t, err, io.EOF, "round %d: closed well before the idle timeout", i)
		c.Close()
	}
}

// TestH1ServerIdleAcrossTheWaitsHandOver: a connection idle for longer
// than the wait inside the read wait still carries its next request, and
// is closed at the idle timeout, never before it.
func TestH1ServerIdleAcrossTheWaitsHandOver(t *testing.T) {
	const idle = 3 * time.Second
	const wait = 200 * time.Millisecond // inside the read wait
	f := pacedFront(t, ServerOptions{IdleTimeout: idle, rawIdleWait: wait}, pacedBackend(t, 0, nil))
	c := dialRaw(t, f.plain, "GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\nGET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n", 30*time.Second)
	defer c.Close()
	br := bufio.NewReader(c)
	readBody(t, br)
	readBody(t, br)
	io.WriteString(c, "GET /3 HTTP/1.1\r\nHost: a.test\r\n\r\n") // served inside the read wait
	readBody(t, br)
	time.Sleep(2*wait + 300*time.Millisecond) // past the wait inside the read wait
	sent := time.Now()                        // the server's idle time begins after this
	io.WriteString(c, "GET /4 HTTP/1.1\r\nHost: a.test\r\n\r\n")
	_, body := readBody(t, br)
	assert.Equal(t, "GET /4", body, "the connection outlives the wait inside the read wait")
	_, err := br.ReadByte()
	assert.ErrorIs(t, err, io.EOF, "closed at the idle timeout")
	assert.GreaterOrEqual(t, time.Since(sent), idle, "never before the idle timeout")
}

// TestH1ServerPipelinedBurst: a burst of pipelined requests larger than
// the connection's read buffer, whose first read ends exactly at a request
// boundary, is answered whole and at once: the bytes left in the socket
// after a read that filled the buffer are read before any wait (the poller
// says nothing more of them).
func TestH1ServerPipelinedBurst(t *testing.T) {
	f := pacedFront(t, ServerOptions{IdleTimeout: time.Hour, rawIdleWait: time.Hour}, pacedBackend(t, 0, nil))
	c := dialRaw(t, f.plain, "GET /first HTTP/1.1\r\nHost: a.test\r\n\r\n", 10*time.Second)
	defer c.Close()
	br := bufio.NewReader(c)
	readBody(t, br)
	var burst strings.Builder
	const n = 128
	for i := range n {
		req := fmt.Sprintf("GET /%03d HTTP/1.1\r\nHost: a.test\r\n\r\n", i)
		req = strings.Replace(req, "GET /", "GET /"+strings.Repeat("x", 64-len(req)), 1)
		require.Len(t, req, 64) // 64 requests fill a 4 KiB read exactly
		burst.WriteString(req)
	}
	io.WriteString(c, burst.String())
	for i := range n {
		code, body := readBody(t, br)
		assert.Equal(t, 200, code)
		assert.True(t, strings.HasSuffix(body, fmt.Sprintf("%03d", i)), "answer %d in order: %q", i, body)
	}
}

// TestH1ServerCloseWithARequestInsideTheWait: Close returns at once while a
// later request is under way inside the read wait (whose read lock Close
// would otherwise wait for), and that request's exchange ends.
func TestH1ServerCloseWithARequestInsideTheWait(t *testing.T) {
	f := pacedFront(t, ServerOptions{}, pacedBackend(t, time.Minute, nil))
	srv := NewHTTPServer("", f.srv, ServerOptions{HTTP1: HTTP1Weir}, nil)
	addr := serveOn(t, srv, nil)
	c := dialRaw(t, addr, "GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\n", 30*time.Second)
	defer c.Close()
	br := bufio.NewReader(c)
	readBody(t, br)
	io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: a.test\r\n\r\n")
	require.Eventually(t, func() bool { return f.srv.metrics.inFlight != nil && inFlight(f.srv) == 1 }, 5*time.Second, 5*time.Millisecond)
	// The next request comes while the slow one is served: the watch sees
	// it waiting and stops looking, so only Close can end the exchange.
	io.WriteString(c, "GET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n")
	time.Sleep(4 * watchDelay)
	closed := make(chan struct{})
	go func() {
		srv.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close waited for the request under way")
	}
	require.Eventually(t, func() bool { return inFlight(f.srv) == 0 }, 20*time.Second, 5*time.Millisecond, "the exchange ended")
}
