package stream

import (
	"bufio"
	"context"
	"io"
	"net"
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
	require.Eventually(t, func() bool {
		n, err := net.DialTimeout("tcp", bindLoopback(port), 5*time.Second)
		if err == nil {
			n.Close()
		}
		return err != nil
	}, 20*time.Second, 10*time.Millisecond, "a new connection is refused once the drain began")
	got, err = ask(c, r, "during")
	require.NoError(t, err, "the open connection works during the drain")
	assert.Equal(t, "during\n", got)

	end() // the drain period is over
	select {
	case n := <-cut:
		assert.Equal(t, 1, n)
	case <-time.After(30 * time.Second):
		t.Fatal("Shutdown did not return when its period ended")
	}
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
	select {
	case n := <-cut:
		assert.Zero(t, n)
	case <-time.After(30 * time.Second):
		t.Fatal("Shutdown waited on after the last connection ended")
	}
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

	end()
	select {
	case n := <-cut:
		assert.Equal(t, 1, n, "the unanswered session is cut")
	case <-time.After(30 * time.Second):
		t.Fatal("Shutdown did not return when its period ended")
	}
	assert.Equal(t, 1.0, count(metrics, label, resultCut))
	assert.Nil(t, m.Addr(port), "the socket is closed")
}
