package stream

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"weir.dev/weir/proxy/stream/streamtest"
)

// ask writes line to c and reads the answer line.
func ask(c net.Conn, r *bufio.Reader, line string) (string, error) {
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	got, err := r.ReadString('\n')
	return got, err
}

// refused waits until a new TCP connection to addr is refused.
func refused(t *testing.T, addr string) {
	t.Helper()
	require.Eventually(t, func() bool {
		n, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err == nil {
			n.Close()
		}
		return err != nil
	}, 20*time.Second, 10*time.Millisecond, "a new connection is refused once the drain began")
}

// waitCut returns what a Shutdown running in the background returned.
func waitCut(t *testing.T, cut <-chan int) int {
	t.Helper()
	select {
	case n := <-cut:
		return n
	case <-time.After(30 * time.Second):
		t.Fatal("Shutdown did not return")
		return 0
	}
}

// At shutdown a TCP service port stops accepting at once; a connection
// open then keeps working until the drain period ends, and is then closed
// and counted as cut. Apply opens nothing afterwards.
func TestTCPServiceDrain(t *testing.T) {
	metrics := NewMetrics(prometheus.NewRegistry())
	m := NewManager(bindLoopback, Options{Metrics: metrics})
	defer m.Close()
	port := freePort(t)
	svc := []Service{{Port: port, Target: Target{Addrs: []string{streamtest.Echo(t).String()}}}}
	require.Empty(t, m.Apply(svc))
	c, err := net.DialTimeout("tcp", bindLoopback(port), 10*time.Second)
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	got, err := ask(c, r, "before")
	require.NoError(t, err)
	require.Equal(t, "before\n", got)

	period, end := context.WithCancel(context.Background())
	cut := make(chan int, 1)
	go func() { cut <- m.Shutdown(period) }()
	refused(t, bindLoopback(port))
	got, err = ask(c, r, "during")
	require.NoError(t, err, "the open connection works during the drain")
	assert.Equal(t, "during\n", got)

	end() // the drain period is over
	assert.Equal(t, 1, waitCut(t, cut))
	_, err = ask(c, r, "after")
	assert.Error(t, err, "the connection is closed at the end of the drain")
	assert.Equal(t, 1.0, count(metrics, "tcp/"+itoa(port), resultCut))

	assert.Empty(t, m.Apply(svc))
	assert.Nil(t, m.Addr(port), "nothing is opened after shutdown")
}

// A drain ends as soon as the last connection does; none is cut.
func TestTCPServiceDrainEndsEarly(t *testing.T) {
	m := NewManager(bindLoopback, Options{})
	port := freePort(t)
	require.Empty(t, m.Apply([]Service{{Port: port, Target: Target{Addrs: []string{streamtest.Echo(t).String()}}}}))
	c, err := net.DialTimeout("tcp", bindLoopback(port), 10*time.Second)
	require.NoError(t, err)
	_, err = ask(c, bufio.NewReader(c), "hi")
	require.NoError(t, err)
	cut := make(chan int, 1)
	go func() { cut <- m.Shutdown(context.Background()) }()
	c.Close()
	assert.Zero(t, waitCut(t, cut), "Shutdown returns when the last connection ends")
}

// heldUDP is a UDP endpoint that answers only when told: it records each
// datagram's sender by its content.
type heldUDP struct {
	pc   net.PacketConn
	mu   sync.Mutex
	from map[string]net.Addr
}

func newHeldUDP(t *testing.T) *heldUDP {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { pc.Close() })
	h := &heldUDP{pc: pc, from: map[string]net.Addr{}}
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			h.mu.Lock()
			h.from[string(buf[:n])] = from
			h.mu.Unlock()
		}
	}()
	return h
}

func (h *heldUDP) sender(msg string) net.Addr {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.from[msg]
}

// openSession sends msg from a new client until the endpoint has it.
func openSession(t *testing.T, h *heldUDP, port int, msg string) net.Conn {
	t.Helper()
	c, err := net.Dial("udp", bindLoopback(port))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.Eventually(t, func() bool {
		_, _ = c.Write([]byte(msg))
		return h.sender(msg) != nil
	}, 20*time.Second, 20*time.Millisecond)
	return c
}

// At shutdown a UDP service port opens no new session, while the open ones
// still get their answer until the drain period ends; then those left are
// cut.
func TestUDPServiceDrain(t *testing.T) {
	metrics := NewMetrics(prometheus.NewRegistry())
	h := newHeldUDP(t)
	m := NewUDPManager(bindLoopback, Options{Metrics: metrics})
	defer m.Close()
	port := freeUDPPort(t)
	label := "udp/" + itoa(port)
	require.Empty(t, m.Apply([]Service{{Port: port, Target: Target{Addrs: []string{h.pc.LocalAddr().String()}}}}))
	answered := openSession(t, h, port, "one")
	openSession(t, h, port, "two") // never answered

	period, end := context.WithCancel(context.Background())
	cut := make(chan int, 1)
	go func() { cut <- m.Shutdown(period) }()
	require.Eventually(t, func() bool { // Shutdown began: every port drains
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.shutdown
	}, 20*time.Second, time.Millisecond)
	late, err := net.Dial("udp", bindLoopback(port))
	require.NoError(t, err)
	defer late.Close()
	require.Eventually(t, func() bool {
		_, _ = late.Write([]byte("three"))
		return count(metrics, label, resultRefused) > 0
	}, 20*time.Second, 20*time.Millisecond, "a new client is refused once the drain began")
	assert.Nil(t, h.sender("three"))

	_, err = h.pc.WriteTo([]byte("answer"), h.sender("one"))
	require.NoError(t, err)
	buf := make([]byte, 64)
	_ = answered.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, err := answered.Read(buf)
	require.NoError(t, err, "an open session gets its answer during the drain")
	assert.Equal(t, "answer", string(buf[:n]))
	require.Eventually(t, func() bool { // its session ended with the answer
		m.open.mu.Lock()
		defer m.open.mu.Unlock()
		return len(m.open.open) == 1
	}, 20*time.Second, time.Millisecond)

	end()
	assert.Equal(t, 1, waitCut(t, cut), "the unanswered session is cut")
	assert.Equal(t, 1.0, count(metrics, label, resultCut))
	assert.Nil(t, m.Addr(port), "the socket is closed")
}

// At shutdown the passthrough listener stops accepting; a spliced
// connection goes on until the drain period ends, then is cut.
func TestPassthroughDrain(t *testing.T) {
	metrics := NewMetrics(prometheus.NewRegistry())
	pl, addr := frontend(t, Options{Metrics: metrics})
	pl.SetRoutes(NewRoutes(map[string]*Target{"pass.test": {Addrs: []string{tlsBackend(t)}}}))
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{ServerName: "pass.test", InsecureSkipVerify: true})
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	request := func() (string, error) { // one keep-alive GET on c
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: pass.test\r\n\r\n"); err != nil {
			return "", err
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	body, err := request()
	require.NoError(t, err)
	require.Equal(t, "backend pass.test", body)

	period, end := context.WithCancel(context.Background())
	cut := make(chan int, 1)
	go func() { cut <- pl.Shutdown(period) }()
	refused(t, addr)
	body, err = request()
	require.NoError(t, err, "the spliced connection works during the drain")
	assert.Equal(t, "backend pass.test", body)
	end()
	assert.Equal(t, 1, waitCut(t, cut))
	_, err = request()
	assert.Error(t, err, "cut at the end of the drain")
	assert.Equal(t, 1.0, count(metrics, passthroughLabel, resultCut))
}
