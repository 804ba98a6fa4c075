package bench

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	networkingv1 "k8s.io/api/networking/v1"
)

// S9 (issue 13): WebSockets and HTTP/2 streams held open through Weir
// survive 100 table swaps, all of them. After each swap every WebSocket
// echoes a message and every stream receives a line its backend sends only
// then, so a connection that a swap broke or stalled fails the test.
// Deadlines only bound the test; nothing here asserts timing.
const (
	s9Swaps      = 100
	s9WebSockets = 10
	s9Streams    = 20
	s9Deadline   = 30 * time.Second
)

func TestS9StreamsSurviveTableSwaps(t *testing.T) {
	s := newStack(t)
	hub := newBeats()
	s.service("ws", wsEcho(t))
	s.service("stream", streamer(t, hub))
	routes := []*networkingv1.Ingress{ingress("ws", "ws.test", "ws", nil), ingress("stream", "stream.test", "stream", nil)}
	s.publish(routes...)

	sockets := make([]*wsConn, s9WebSockets)
	for i := range sockets {
		sockets[i] = s.dialWebSocket(t, "ws.test")
	}
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	h2 := &http.Client{Transport: &http.Transport{Protocols: &p}}
	t.Cleanup(h2.CloseIdleConnections)
	// The streams' context bounds the test: a stalled stream ends with an
	// error when it runs out, not with a hung test.
	ctx, cancel := context.WithTimeout(context.Background(), 4*s9Deadline)
	defer cancel()
	streams := make([]*bufio.Reader, s9Streams)
	for i := range streams {
		streams[i] = s.openStream(t, ctx, h2, i)
	}

	for swap := 1; swap <= s9Swaps; swap++ {
		// Each swap is a new table that also differs in its routes.
		s.publish(append(routes, ingress("extra", fmt.Sprintf("extra%d.test", swap), "ws", nil))...)
		hub.beat()
		want := fmt.Sprintf("beat %d\n", swap)
		for i, st := range streams {
			line, err := st.ReadString('\n')
			require.NoError(t, err, "HTTP/2 stream %d after swap %d", i, swap)
			require.Equal(t, want, line, "HTTP/2 stream %d after swap %d", i, swap)
		}
		for i, ws := range sockets {
			require.NoError(t, ws.echo(fmt.Sprintf("message %d over socket %d", swap, i)), "WebSocket %d after swap %d", i, swap)
		}
	}
	t.Logf("S9: %d of %d WebSockets and %d of %d HTTP/2 streams survived %d table swaps",
		s9WebSockets, s9WebSockets, s9Streams, s9Streams, s9Swaps)
	// New requests still reach the last table's routes.
	resp, err := h2.Get("http://" + s.addr + "/")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "no route for the bare address")
}

// beats lets the test send one line down every open stream at once.
type beats struct {
	mu   sync.Mutex
	cond *sync.Cond
	n    int
}

func newBeats() *beats {
	b := &beats{}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *beats) beat() {
	b.mu.Lock()
	b.n++
	b.mu.Unlock()
	b.cond.Broadcast()
}

// wait returns the first beat after last.
func (b *beats) wait(last int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.n == last {
		b.cond.Wait()
	}
	return b.n
}

// streamer is a backend whose answers stay open and send "beat N" at each
// beat, until the test ends.
func streamer(t *testing.T, hub *beats) string {
	return serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hub.mu.Lock()
		last := hub.n
		hub.mu.Unlock()
		// A first line at once: Weir sends the head of a streamed answer
		// with its first body bytes (docs/benchmarks.md, S9).
		if _, err := io.WriteString(w, "open\n"); err != nil {
			return
		}
		w.(http.Flusher).Flush()
		for last < s9Swaps {
			last = hub.wait(last)
			if _, err := fmt.Fprintf(w, "beat %d\n", last); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	}))
}

// openStream starts stream i over HTTP/2 (cleartext, one connection for
// all) and reads its first line: from then on its backend holds it.
func (s *stack) openStream(t *testing.T, ctx context.Context, c *http.Client, i int) *bufio.Reader {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addr+"/stream/"+strconv.Itoa(i), nil)
	require.NoError(t, err)
	req.Host = "stream.test"
	resp, err := c.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, 2, resp.ProtoMajor, "HTTP/2 from the client to Weir")
	r := bufio.NewReader(resp.Body)
	line, err := r.ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "open\n", line)
	return r
}

// wsEcho is a WebSocket backend: it completes the upgrade, then echoes
// bytes (the test needs no framing: after the 101 Weir copies bytes).
func wsEcho(t *testing.T) string {
	return serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "not a WebSocket", http.StatusBadRequest)
			return
		}
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			wsAccept(r.Header.Get("Sec-WebSocket-Key")))
		if rw.Flush() == nil {
			_, _ = io.Copy(conn, rw)
		}
	}))
}

// wsAccept is RFC 6455's Sec-WebSocket-Accept for key.
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

type wsConn struct {
	conn net.Conn
	r    *bufio.Reader
}

func (s *stack) dialWebSocket(t *testing.T, host string) *wsConn {
	t.Helper()
	conn, err := net.Dial("tcp", s.addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.SetDeadline(time.Now().Add(s9Deadline)))
	key := base64.StdEncoding.EncodeToString([]byte("weir-bench-s9-key"))
	_, err = fmt.Fprintf(conn, "GET /chat HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", host, key)
	require.NoError(t, err)
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	require.Equal(t, wsAccept(key), resp.Header.Get("Sec-WebSocket-Accept"))
	return &wsConn{conn: conn, r: r}
}

// echo sends msg and reads it back.
func (w *wsConn) echo(msg string) error {
	if err := w.conn.SetDeadline(time.Now().Add(s9Deadline)); err != nil {
		return err
	}
	if _, err := io.WriteString(w.conn, msg+"\n"); err != nil {
		return err
	}
	got, err := w.r.ReadString('\n')
	if err != nil {
		return err
	}
	if got != msg+"\n" {
		return fmt.Errorf("echoed %q, sent %q", got, msg)
	}
	return nil
}

// serve runs h on a loopback port until the test ends.
func serve(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := &http.Server{Handler: h}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	return ln.Addr().String()
}
