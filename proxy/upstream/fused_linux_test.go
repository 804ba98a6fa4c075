package upstream

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawEndpoint is an endpoint on loopback that serves each connection it
// accepts with serve(i, conn), i counting the connections from 0.
type rawEndpoint struct {
	ln       net.Listener
	accepted atomic.Int32
	wg       sync.WaitGroup
}

func newRawEndpoint(t *testing.T, serve func(i int, c net.Conn)) *rawEndpoint {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return serveRaw(t, ln, serve)
}

func serveRaw(t *testing.T, ln net.Listener, serve func(i int, c net.Conn)) *rawEndpoint {
	e := &rawEndpoint{ln: ln}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			i := int(e.accepted.Add(1)) - 1
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				defer c.Close()
				serve(i, c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); e.wg.Wait() })
	return e
}

func (e *rawEndpoint) addr() string { return e.ln.Addr().String() }

// roundTrip sends a GET and returns the body or the error.
func roundTrip(ctx context.Context, c *Client, addr string, read time.Duration) (string, error) {
	req := &Request{Addr: addr, Method: http.MethodGet, URI: "/", Host: "a.test"}
	resp, err := c.RoundTrip(ctx, req, Timeouts{Connect: 10 * time.Second, Read: read})
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// An idle connection that the endpoint closed after its answer (with a FIN,
// or a reset) is not probed when reused at once (IdleCheck): the request
// written on it must fail as "no response" and go out again on a new
// connection, answered as if nothing had happened.
func TestPendingRequestOnAClosedIdleConnectionIsRetried(t *testing.T) {
	for _, reset := range []bool{false, true} {
		closed := make(chan struct{})
		e := newRawEndpoint(t, func(i int, c net.Conn) {
			br := bufio.NewReader(c)
			if !readHead(br) {
				return
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n%dabc", i)
			if i == 0 {
				if reset {
					c.(*net.TCPConn).SetLinger(0)
				}
				c.Close()
				close(closed)
				return
			}
			for readHead(br) {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n1abc")
			}
		})
		c := New(Options{IdleCheck: time.Hour})
		body, err := roundTrip(context.Background(), c, e.addr(), 10*time.Second)
		require.NoError(t, err)
		assert.Equal(t, "0abc", body)
		<-closed
		body, err = roundTrip(context.Background(), c, e.addr(), 10*time.Second)
		require.NoError(t, err, "reset %v", reset)
		assert.Equal(t, "1abc", body, "answered on a new connection (reset %v)", reset)
		assert.Equal(t, int32(2), e.accepted.Load())
		c.CloseIdle(nil)
	}
}

// Answers that arrive in pieces, and one framed by the connection's end,
// are read whole, on new and on kept-alive connections.
func TestPendingRequestAnswerInPiecesAndUntilClose(t *testing.T) {
	const answer = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	e := newRawEndpoint(t, func(i int, c net.Conn) {
		br := bufio.NewReader(c)
		for n := 0; readHead(br); n++ {
			if i == 0 && n < 2 {
				for j := 0; j < len(answer); j += 7 {
					io.WriteString(c, answer[j:min(j+7, len(answer))])
					time.Sleep(time.Millisecond)
				}
				continue
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\nuntil close")
			return
		}
	})
	c := New(Options{IdleCheck: time.Hour})
	defer c.CloseIdle(nil)
	for _, want := range []string{"hello", "hello", "until close"} {
		body, err := roundTrip(context.Background(), c, e.addr(), 10*time.Second)
		require.NoError(t, err)
		assert.Equal(t, want, body)
	}
	assert.Equal(t, int32(1), e.accepted.Load(), "the pieces came on one kept-alive connection")
	body, err := roundTrip(context.Background(), c, e.addr(), 10*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "until close", body)
	assert.Equal(t, int32(2), e.accepted.Load(), "a body framed by the close is not kept alive")
}

// stallAfter answers the first n requests of each connection and then
// reads on without answering.
func stallAfter(n int) func(int, net.Conn) {
	return func(_ int, c net.Conn) {
		br := bufio.NewReader(c)
		for k := 0; readHead(br); k++ {
			if k < n {
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}
		}
	}
}

// proxy-read-timeout still ends the wait for an answer that never comes,
// on a new and on a kept-alive connection.
func TestPendingRequestReadTimeout(t *testing.T) {
	for _, answered := range []int{0, 1} {
		e := newRawEndpoint(t, stallAfter(answered))
		c := New(Options{IdleCheck: time.Hour})
		for k := 0; k < answered; k++ {
			_, err := roundTrip(context.Background(), c, e.addr(), 10*time.Second)
			require.NoError(t, err)
		}
		_, err := roundTrip(context.Background(), c, e.addr(), 50*time.Millisecond)
		require.Error(t, err)
		assert.True(t, isTimeout(err), "a timeout: %v", err)
		assert.Contains(t, err.Error(), "read response")
		assert.Equal(t, int32(1), e.accepted.Load(), "not retried elsewhere")
		c.CloseIdle(nil)
	}
}

// A client that goes away (its context ends) wakes the wait at once.
func TestPendingRequestClientGoneEndsTheWait(t *testing.T) {
	e := newRawEndpoint(t, stallAfter(1))
	c := New(Options{IdleCheck: time.Hour})
	defer c.CloseIdle(nil)
	_, err := roundTrip(context.Background(), c, e.addr(), time.Minute)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := roundTrip(ctx, c, e.addr(), time.Minute)
		done <- err
	}()
	time.Sleep(10 * time.Millisecond) // most likely waiting by now; either way it must end
	cancel()
	select {
	case err := <-done:
		assert.Error(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("the exchange outlived its request")
	}
}

// When the socket cannot take the pending request at once, the rest goes
// out through the connection's own Write and the answer is read as usual.
func TestPendingRequestOnAFullSocketFallsBack(t *testing.T) {
	filled := make(chan int, 1)
	// Small socket buffers on both sides, which the kernel does not grow.
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<10) })
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	e := serveRaw(t, ln, func(_ int, c net.Conn) {
		br := bufio.NewReaderSize(c, 64<<10)
		// Nothing is read until the socket is full and the test says how
		// many filler bytes went out before its request.
		var n int
		select {
		case n = <-filled:
		case <-time.After(30 * time.Second):
			return // a second connection (the test failed): do not hang it
		}
		if _, err := br.Discard(n); err != nil {
			return
		}
		if readHead(br) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	c := New(Options{IdleCheck: time.Hour})
	defer c.CloseIdle(nil)
	c.pool(e.addr()) // as get makes it before it dials
	cn, err := c.connect(context.Background(), e.addr(), 10*time.Second, nil)
	require.NoError(t, err)
	// More than the buffers hold: the write stops at its deadline with the
	// socket full.
	require.NoError(t, cn.nc.(*net.TCPConn).SetWriteBuffer(4<<10))
	cn.nc.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	n, err := cn.nc.Write(make([]byte, 32<<20))
	require.True(t, isTimeout(err), "the socket filled up: %v", err)
	cn.nc.SetWriteDeadline(time.Time{})
	filled <- n
	c.put(e.addr(), cn)
	// A head of 7 KiB, more than the last segment's room.
	req := &Request{Addr: e.addr(), Method: http.MethodGet, URI: "/", Host: "a.test", Fields: bigFields(7 << 10)}
	resp, err := c.RoundTrip(context.Background(), req, Timeouts{Connect: 10 * time.Second, Read: 10 * time.Second})
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "ok", string(b))
}

// bigFields writes one header field of about n bytes.
type bigFields int

func (n bigFields) WriteFields(bw *bufio.Writer) {
	bw.WriteString("X-Big: ")
	bw.WriteString(strings.Repeat("b", int(n)))
	bw.WriteString("\r\n")
}

// An endpoint that half-closes an idle connection (shutdown of its sending
// side, as a lingering close does), reads what comes after and then closes
// with nothing unread sends nothing the request could wake on: its end of
// stream arrived before the request was written. The request must still
// be retried on a new connection and answered, not wait for the read
// timeout.
func TestPendingRequestAfterALingeringCloseIsRetried(t *testing.T) {
	halfClosed := make(chan struct{})
	e := newRawEndpoint(t, func(i int, c net.Conn) {
		br := bufio.NewReader(c)
		if !readHead(br) {
			return
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n%dabc", i)
		if i == 0 {
			c.(*net.TCPConn).CloseWrite()
			close(halfClosed)
			readHead(br) // the request sent after the end of stream, dropped
			return
		}
		for readHead(br) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n1abc")
		}
	})
	c := New(Options{IdleCheck: time.Hour})
	defer c.CloseIdle(nil)
	body, err := roundTrip(context.Background(), c, e.addr(), time.Minute)
	require.NoError(t, err)
	assert.Equal(t, "0abc", body)
	<-halfClosed
	// The end of stream must have reached the connection before the
	// request is written: wait until the kernel says so.
	require.Eventually(t, func() bool { return finReceived(t, c, e.addr()) }, 20*time.Second, time.Millisecond)
	body, err = roundTrip(context.Background(), c, e.addr(), time.Minute)
	require.NoError(t, err)
	assert.Equal(t, "1abc", body)
	assert.Equal(t, int32(2), e.accepted.Load())
}

// finReceived reports whether the peer's end of stream reached the one
// idle connection to addr (a peek finds it), leaving it in the pool.
func finReceived(t *testing.T, c *Client, addr string) bool {
	p := c.pool(addr)
	p.mu.Lock()
	defer p.mu.Unlock()
	require.Len(t, p.idle, 1)
	rc, err := p.idle[0].nc.(*net.TCPConn).SyscallConn()
	require.NoError(t, err)
	eof := false
	rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		eof = n == 0 && err == nil
	})
	return eof
}

// An answer slower than the check for a silent end of stream (probeAfter)
// is awaited under the read timeout; the read timeout still ends a wait
// longer than it, counted from the request.
func TestPendingRequestSlowAnswer(t *testing.T) {
	const slow = 3 * probeAfter
	e := newRawEndpoint(t, func(_ int, c net.Conn) {
		br := bufio.NewReader(c)
		for k := 0; readHead(br); k++ {
			if k < 3 { // the fourth request is never answered
				time.Sleep(slow)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}
		}
	})
	c := New(Options{IdleCheck: time.Hour})
	defer c.CloseIdle(nil)
	for _, read := range []time.Duration{0, time.Minute, time.Minute} { // new, then kept-alive connections
		body, err := roundTrip(context.Background(), c, e.addr(), read)
		require.NoError(t, err, "read timeout %v", read)
		assert.Equal(t, "ok", body)
	}
	_, err := roundTrip(context.Background(), c, e.addr(), slow*2/3)
	require.Error(t, err)
	assert.True(t, isTimeout(err), "a timeout: %v", err)
	assert.Equal(t, int32(1), e.accepted.Load())
}
