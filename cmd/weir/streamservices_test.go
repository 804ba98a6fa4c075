package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"weir.dev/weir/proxy/stream/streamtest"
)

// dnsService is Service dns with UDP port 53 named dns, and its
// EndpointSlice: 127.0.0.1:backendPort.
func dnsService(backendPort int) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: dns, namespace: default}
spec: {ports: [{name: dns, port: 53, protocol: UDP}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: dns-1, namespace: default, labels: {kubernetes.io/service-name: dns}}
addressType: IPv4
ports: [{name: dns, port: %d, protocol: UDP}]
endpoints: [{addresses: ["127.0.0.1"], conditions: {ready: true}}]
`, backendPort)
}

// servicePort writes the services ConfigMap default/<network> with one
// entry, a free loopback port to target, and waits until Weir has bound it
// (bound); a port another process took meanwhile is replaced by another.
func servicePort(t *testing.T, dir, network, target string, bound func(port int) net.Addr) int {
	t.Helper()
	for attempt := 0; ; attempt++ {
		var port int
		if network == "tcp" {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			port = ln.Addr().(*net.TCPAddr).Port
			ln.Close()
		} else {
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			require.NoError(t, err)
			port = pc.LocalAddr().(*net.UDPAddr).Port
			pc.Close()
		}
		cm := fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: default}\ndata: {\"%d\": %q}\n", network, port, target)
		require.NoError(t, os.WriteFile(filepath.Join(dir, network+".yaml"), []byte(cm), 0o644))
		if assert.Eventually(t, func() bool { return bound(port) != nil }, 20*time.Second, 20*time.Millisecond) || attempt == 2 {
			return port
		}
	}
}

// TCP and UDP services in offline mode: their ConfigMaps, Services and
// EndpointSlices come from the manifests, as Ingresses do, and a ConfigMap
// edit moves a port live. At shutdown the ports stop accepting while a TCP
// connection open then keeps working until the drain period ends, and is
// then closed.
func TestTCPAndUDPServicesOffline(t *testing.T) {
	dir := t.TempDir()
	site := loopbackService("db", "db", 5432, strconv.Itoa(streamtest.Echo(t).Port)) + dnsService(streamtest.UDPEcho(t, "pong:").Port)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "site.yaml"), []byte(site), 0o644))
	pub, _, _ := serveStack(t, dir, prometheus.NewRegistry(), "--bind-address=127.0.0.1",
		"--tcp-services-configmap=default/tcp", "--udp-services-configmap=default/udp")
	tcpPort := servicePort(t, dir, "tcp", "default/db:5432", pub.streams.tcp.Addr)
	udpPort := servicePort(t, dir, "udp", "default/dns:dns", pub.streams.udp.Addr)

	u, err := net.Dial("udp", "127.0.0.1:"+strconv.Itoa(udpPort))
	require.NoError(t, err)
	defer u.Close()
	buf := make([]byte, 64)
	require.Eventually(t, func() bool { // UDP: resend until answered
		_, _ = u.Write([]byte("ping"))
		_ = u.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := u.Read(buf)
		return err == nil && string(buf[:n]) == "pong:ping"
	}, 20*time.Second, time.Millisecond, "the UDP service answers")

	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(tcpPort), 10*time.Second)
	require.NoError(t, err)
	defer c.Close()
	r := bufio.NewReader(c)
	line := func(s string) (string, error) {
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.WriteString(c, s+"\n"); err != nil {
			return "", err
		}
		return r.ReadString('\n')
	}
	got, err := line("hello")
	require.NoError(t, err)
	require.Equal(t, "hello\n", got, "the TCP service splices to its endpoint")

	period, end := context.WithCancel(context.Background())
	drained := make(chan struct{})
	go func() { pub.streams.shutdown(period); close(drained) }()
	require.Eventually(t, func() bool {
		n, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(tcpPort), 5*time.Second)
		if err == nil {
			n.Close()
		}
		return err != nil
	}, 20*time.Second, 10*time.Millisecond, "a new connection is refused once the drain began")
	got, err = line("during")
	require.NoError(t, err, "the open connection works during the drain")
	assert.Equal(t, "during\n", got)
	end()
	select {
	case <-drained:
	case <-time.After(30 * time.Second):
		t.Fatal("the drain did not end with its period")
	}
	_, err = line("after")
	assert.Error(t, err, "closed when the drain period ended")
}
