package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// TestTCPServiceDrain deletes a Weir replica while a client holds a TCP
// service connection to it. After --shutdown-delay (5 s) the port refuses
// new connections; the open one keeps working through the drain and is
// closed when --drain-period (30 s, deploy/base) ends, which lets the Pod
// exit.
func TestTCPServiceDrain(t *testing.T) {
	ctx := ctxFor(t, 4*time.Minute)
	ns := namespace(t, ctx)
	echoApp(t, ctx, ns, "db", 1)
	servicesConfigMap(t, ctx, tcpServicesConfigMap, map[string]string{"9100": ns + "/db:80"})
	victim := env.weirs[0]
	waitTCPService(t, ctx, &victim, "9100", ns)
	addr := net.JoinHostPort(victim.Status.PodIP, "9100")
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	get := func() error { // a keep-alive GET on c, to the echo Pod
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: tcp.example.test\r\n\r\n"); err != nil {
			return err
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if err := get(); err != nil {
		t.Fatalf("before the drain: %v", err)
	}

	deleteWeir(t, ctx, &victim)
	deleted := time.Now()
	for {
		n, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		if err == nil {
			n.Close()
		}
		if time.Since(deleted) > 2*time.Minute {
			t.Fatalf("port 9100 of the deleted Weir Pod %s still not refusing new connections after 2 minutes (last: %v)", victim.Name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("new connections refused %s after the deletion", time.Since(deleted).Round(100*time.Millisecond))
	if err := get(); err != nil {
		t.Errorf("the open connection failed during the drain: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Minute))
	if _, err := r.ReadByte(); err == nil {
		t.Error("the connection sent a byte nobody asked for")
	}
	t.Logf("the open connection was closed %s after the deletion", time.Since(deleted).Round(100*time.Millisecond))
	waitWeirGone(t, ctx, &victim)
}
