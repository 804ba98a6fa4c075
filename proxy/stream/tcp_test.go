package stream

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"weir.dev/weir/proxy/stream/streamtest"
)

// echoBackend reads what a client sends until its half-close, then answers
// "<prefix>:<first line>:<the rest>" and closes. The first line is the
// PROXY header when the service sends one.
func echoBackend(t *testing.T, prefix string) string {
	t.Helper()
	return streamtest.ServeTCP(t, func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		all, _ := io.ReadAll(c) // until the client's half-close
		first, rest, _ := strings.Cut(string(all), "\r\n")
		io.WriteString(c, prefix+":"+first+":"+rest)
	}).String()
}

// freePort binds and releases a loopback port for a TCP service.
func freePort(t *testing.T) int {
	ln := listen(t)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func bindLoopback(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }

// roundTrip sends msg, half-closes and reads the whole answer.
func roundTrip(t *testing.T, port int, msg string) string {
	t.Helper()
	var c net.Conn
	require.Eventually(t, func() bool {
		var err error
		c, err = net.DialTimeout("tcp", bindLoopback(port), 5*time.Second)
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	_, err := io.WriteString(c, msg)
	require.NoError(t, err)
	_ = c.(*net.TCPConn).CloseWrite() // fails when Weir closed first
	got, _ := io.ReadAll(c)
	return string(got)
}

// A TCP service splices both ways and passes the client's half-close on
// (the backend answers only after it); PROXY decode takes the client address
// from the header, encode sends it on; Apply retargets, adds and removes
// ports.
func TestTCPServices(t *testing.T) {
	a, b := echoBackend(t, "a"), echoBackend(t, "b")
	m := NewManager(bindLoopback, Options{})
	defer m.Close()
	plain, proxied := freePort(t), freePort(t)
	require.Empty(t, m.Apply([]Service{
		{Port: plain, Target: Target{Addrs: []string{a}}},
		{Port: proxied, Target: Target{Addrs: []string{b}}, DecodeProxy: true, EncodeProxy: true},
	}))
	assert.Equal(t, "a:hello:world", roundTrip(t, plain, "hello\r\nworld"))
	got := roundTrip(t, proxied, "PROXY TCP4 192.0.2.7 127.0.0.1 4321 "+strconv.Itoa(proxied)+"\r\nping")
	assert.Equal(t, "b:PROXY TCP4 192.0.2.7 127.0.0.1 4321 "+strconv.Itoa(proxied)+":ping", got,
		"the header sent names the client from the decoded header")

	// A bad PROXY header is refused before any endpoint is dialled.
	c, err := net.Dial("tcp", bindLoopback(proxied))
	require.NoError(t, err)
	_, _ = io.WriteString(c, "HELLO\r\n")
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = bufio.NewReader(c).ReadByte()
	assert.Error(t, err)
	c.Close()

	// Retarget plain to b, drop proxied.
	require.Empty(t, m.Apply([]Service{{Port: plain, Target: Target{Addrs: []string{b}}}}))
	assert.Equal(t, "b:x:", roundTrip(t, plain, "x"))
	assert.Nil(t, m.Addr(proxied))
	_, err = net.DialTimeout("tcp", bindLoopback(proxied), 5*time.Second)
	assert.Error(t, err, "a removed port is closed")

	// A port that cannot be bound is reported; the others are served.
	taken := listen(t)
	errs := m.Apply([]Service{{Port: plain, Target: Target{Addrs: []string{a}}},
		{Port: taken.Addr().(*net.TCPAddr).Port, Target: Target{Addrs: []string{a}}}})
	require.Len(t, errs, 1)
	assert.Equal(t, "a:y:", roundTrip(t, plain, "y"))
}

// A service without endpoints closes its connections.
func TestTCPServiceWithoutEndpoints(t *testing.T) {
	m := NewManager(bindLoopback, Options{})
	defer m.Close()
	port := freePort(t)
	require.Empty(t, m.Apply([]Service{{Port: port, Target: Target{Name: "ns/none:80"}}}))
	assert.Equal(t, "", roundTrip(t, port, "anyone?"))
}

// An idle spliced connection is closed; a busy one in one direction is not
// idle.
func TestSpliceIdle(t *testing.T) {
	a1, a2 := net.Pipe()
	b1, b2 := net.Pipe()
	done := make(chan struct{})
	go func() { Splice(a2, b1, 3*time.Second); close(done) }()
	// Traffic one way only, for longer than the idle timeout.
	go func() {
		buf := make([]byte, 16)
		for {
			if _, err := b2.Read(buf); err != nil {
				return
			}
		}
	}()
	for i := 0; i < 10; i++ {
		_, err := a1.Write([]byte("tick"))
		require.NoError(t, err, "a connection busy one way stays open")
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("closed while busy")
	default:
	}
	<-done // then idle: closed
	_, err := a1.Write([]byte("late"))
	assert.Error(t, err)
}

func TestProxyHeaderV1(t *testing.T) {
	v4 := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1}
	v6 := &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 2}
	assert.Equal(t, "PROXY TCP4 192.0.2.1 192.0.2.1 1 1\r\n", string(proxyHeaderV1(v4, v4)))
	assert.Equal(t, "PROXY TCP6 2001:db8::1 2001:db8::1 2 2\r\n", string(proxyHeaderV1(v6, v6)))
	assert.Equal(t, "PROXY UNKNOWN\r\n", string(proxyHeaderV1(v4, v6)))
}
