package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"weir.dev/weir/proxy/endpoint"

	"github.com/stretchr/testify/require"
)

// Connections that come one after another are served by the same parked
// goroutine; a burst parks at most maxIdle, and they all leave once idle.
func TestH1WorkersReuseAndExpire(t *testing.T) {
	p := &h1Workers{idleFor: 200 * time.Millisecond, maxIdle: 3}
	var served atomic.Int32
	serve := func(h1Job) {
		served.Add(1)
	}
	for range 5 {
		p.run(h1Job{}, serve)
		require.Eventually(t, func() bool { return p.parked() == 1 }, 10*time.Second, time.Millisecond)
	}
	require.EqualValues(t, 5, served.Load())
	require.Eventually(t, func() bool { return p.parked() == 0 }, 30*time.Second, 10*time.Millisecond)

	// A burst: ten at once, each held until all have started.
	release := make(chan struct{})
	var started atomic.Int32
	hold := func(h1Job) { started.Add(1); <-release }
	for range 10 {
		p.run(h1Job{}, hold)
	}
	require.Eventually(t, func() bool { return started.Load() == 10 }, 10*time.Second, time.Millisecond)
	close(release)
	require.Eventually(t, func() bool { return p.parked() == 3 }, 10*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return p.parked() == 0 }, 30*time.Second, 10*time.Millisecond)
}

// TestH1ServerConnectionAllocationBudget: the allocations of one request on
// its own connection ("Connection: close", S2 of docs/performance.md): the
// server's and handler's, and the test client's Dial.
func TestH1ServerConnectionAllocationBudget(t *testing.T) {
	addr := fixedBackend(t)
	reg := endpoint.NewRegistry(endpoint.Options{})
	defer reg.Close()
	s := New(Options{}, reg, nil, nil)
	defer s.Close()
	publishOneRoute(t, s, addr)
	front := serveOn(t, NewHTTPServer("", s, ServerOptions{HTTP1: HTTP1Weir}, nil), nil)
	req := []byte("GET /x?y=1 HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\nUser-Agent: bench\r\nAccept: */*\r\nX-Request-Id: 0123456789abcdef\r\n\r\n")
	buf := make([]byte, 4096)
	var failed error
	run := func() {
		c, err := net.Dial("tcp", front)
		if err != nil {
			failed = err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(60 * time.Second))
		c.Write(req)
		n := 0
		for {
			m, err := c.Read(buf[n:])
			n += m
			if err == io.EOF {
				break
			}
			if err != nil {
				failed = err
				return
			}
		}
		if !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 200 OK\r\n")) {
			failed = fmt.Errorf("answer %q", buf[:n])
		}
	}
	run()
	require.NoError(t, failed)
	n := testing.AllocsPerRun(100, run)
	require.NoError(t, failed)
	t.Logf("%.1f allocations per connection", n)
	// 42 today, of which about 20 are the client's Dial; the slack is for
	// a worker that has not parked yet when the next connection comes.
	budget := 44.0
	if raceEnabled {
		budget += 4
	}
	require.LessOrEqual(t, n, budget, "allocations per connection")
}
