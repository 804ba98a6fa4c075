package stream

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"weir.dev/weir/proxy/stream/streamtest"
)

// udpEcho answers each datagram with prefix + the datagram.
func udpEcho(t *testing.T, prefix string) string { return streamtest.UDPEcho(t, prefix).String() }

func freeUDPPort(t *testing.T) int {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	port := pc.LocalAddr().(*net.UDPAddr).Port
	pc.Close()
	return port
}

// exchange sends msg to port until an answer comes (UDP may drop), and
// returns it.
func exchange(t *testing.T, port int, msg string) string {
	t.Helper()
	c, err := net.Dial("udp", bindLoopback(port))
	require.NoError(t, err)
	defer c.Close()
	buf := make([]byte, 2048)
	var got string
	require.Eventually(t, func() bool {
		if _, err := c.Write([]byte(msg)); err != nil {
			return false
		}
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := c.Read(buf)
		got = string(buf[:n])
		return err == nil
	}, 20*time.Second, time.Millisecond)
	return got
}

// A UDP service relays a client's datagram to an endpoint and the answer
// back; each answer ends the session (ingress-nginx's one response), so the
// next datagram opens a new one; Apply retargets and removes ports; a
// service without endpoints drops datagrams.
func TestUDPServices(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	a, b := udpEcho(t, "a:"), udpEcho(t, "b:")
	um := NewUDPManager(bindLoopback, Options{Metrics: m})
	defer um.Close()
	port, empty := freeUDPPort(t), freeUDPPort(t)
	require.Empty(t, um.Apply([]Service{{Port: port, Target: Target{Addrs: []string{a}}}, {Port: empty, Target: Target{Name: "none"}}}))
	assert.Equal(t, "a:one", exchange(t, port, "one"))
	assert.Equal(t, "a:two", exchange(t, port, "two"))
	require.Eventually(t, func() bool { return count(m, "udp/"+itoa(port), resultProxied) >= 2 }, 10*time.Second, 5*time.Millisecond)

	c, err := net.Dial("udp", bindLoopback(empty))
	require.NoError(t, err)
	defer c.Close()
	require.Eventually(t, func() bool {
		_, _ = c.Write([]byte("x"))
		return count(m, "udp/"+itoa(empty), resultUnavailable) > 0
	}, 10*time.Second, 5*time.Millisecond)

	require.Empty(t, um.Apply([]Service{{Port: port, Target: Target{Addrs: []string{b}}}}))
	assert.Equal(t, "b:three", exchange(t, port, "three"))
	assert.Nil(t, um.Addr(empty), "a removed port is closed")
}

func itoa(i int) string { return strconv.Itoa(i) }
