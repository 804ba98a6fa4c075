package localcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestBackendsFor(t *testing.T) {
	tcp := corev1.ProtocolTCP
	slices := []*discoveryv1.EndpointSlice{{
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](3000), Protocol: &tcp}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.244.9.2"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
			{Addresses: []string{"10.244.9.3"}}, // no conditions: ready
			{Addresses: []string{"10.244.9.4"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: ptr.To(true), Terminating: ptr.To(true)}},
			{Addresses: []string{"10.244.9.5"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: ptr.To(false)}},
		},
	}, {
		// The same Service's other port, resolved to another number.
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("admin"), Port: ptr.To[int32](9000)}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.244.9.6"}}},
	}}
	b := backendsFor("http", slices)
	want := fmt.Sprint([]netip.AddrPort{netip.MustParseAddrPort("10.244.9.2:3000"), netip.MustParseAddrPort("10.244.9.3:3000")})
	if fmt.Sprint(b.ready) != want || fmt.Sprint(b.serving) != "[10.244.9.4:3000]" {
		t.Errorf("port http: ready %v serving %v; want ready %s serving [10.244.9.4:3000]", b.ready, b.serving, want)
	}
	if b := backendsFor("admin", slices); fmt.Sprint(b.ready) != "[10.244.9.6:9000]" {
		t.Errorf("port admin: ready %v, want [10.244.9.6:9000]", b.ready)
	}
	if b := backendsFor("", slices); len(b.ready)+len(b.serving) != 0 {
		t.Errorf("an unnamed port matched named slice ports: %+v", b)
	}
}

func TestAllocate(t *testing.T) {
	l := layoutFor("lbtest", 42)
	lb := &loadBalancer{l: l, owner: map[netip.Addr]string{}, next: firstLBHost}
	svc := func(ip string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Spec: corev1.ServiceSpec{LoadBalancerIP: ip}}
	}
	for i := range numAutoLBHosts {
		a, err := lb.allocate(svc(""))
		if err != nil || a != l.hostAddr(firstLBHost+i) {
			t.Fatalf("automatic address %d: got %v, %v; want %v", i, a, err, l.hostAddr(firstLBHost+i))
		}
		lb.owner[a] = "ns/s" + fmt.Sprint(i)
	}
	if a, err := lb.allocate(svc("")); err == nil {
		t.Fatalf("the automatic pool is used up, yet got %v (the static part is for requests only)", a)
	}
	static := l.hostAddr(firstStaticLB).String()
	if a, err := lb.allocate(svc(static)); err != nil || a.String() != static {
		t.Fatalf("a requested static address: got %v, %v", a, err)
	}
	lb.owner[netip.MustParseAddr(static)] = "ns/static"
	for _, bad := range []string{static, UnusableLoadBalancerAddress.String(), l.hostAddr(lastPodHost).String(), "not-an-ip"} {
		if a, err := lb.allocate(svc(bad)); err == nil {
			t.Errorf("requested %q: got %v, want an error", bad, a)
		}
	}
	delete(lb.owner, l.hostAddr(firstLBHost+3))
	if a, err := lb.allocate(svc("")); err != nil || a != l.hostAddr(firstLBHost+3) {
		t.Errorf("after a release: got %v, %v; want the freed %v", a, err, l.hostAddr(firstLBHost+3))
	}
}

func TestRequestedAddress(t *testing.T) {
	s := &corev1.Service{Spec: corev1.ServiceSpec{LoadBalancerIP: "10.0.0.1"}}
	if a, _, ok := requested(s); !ok || a.String() != "10.0.0.1" {
		t.Errorf("spec.loadBalancerIP: got %v %v", a, ok)
	}
	s.Annotations = map[string]string{lbIPsAnnotation: " 10.0.0.2 ,fd00::1"}
	if a, _, ok := requested(s); !ok || a.String() != "10.0.0.2" {
		t.Errorf("the MetalLB annotation wins: got %v %v", a, ok)
	}
	if _, _, ok := requested(&corev1.Service{}); ok {
		t.Errorf("a Service that asks for nothing reported a request")
	}
}

// TestProxySpreads runs the proxy on loopback: connections spread over the
// ready endpoints, a refusing endpoint is passed over, half-closes pass
// through, a terminating endpoint serves while none is ready, and without a
// working endpoint the client is reset.
func TestProxySpreads(t *testing.T) {
	a, b := echoServer(t, "a"), echoServer(t, "b")
	p, err := listenLB(netip.MustParseAddrPort("127.0.0.1:0"), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	defer p.close(ctx)
	addr := p.ln.Addr().String()
	p.setBackends(&lbBackends{ready: []netip.AddrPort{a, closedPort(t), b}, serving: []netip.AddrPort{closedPort(t)}})
	seen := map[string]int{}
	for range 60 {
		seen[roundTrip(t, addr)]++
	}
	if seen["a"] < 5 || seen["b"] < 5 || seen["a"]+seen["b"] != 60 { // a gets 1/3, b 2/3: fewer than 5 is a 1-in-50,000 event
		t.Errorf("60 connections over endpoints a, a refusing one and b: %v; want all answered, by a and b at least 5 times each", seen)
	}
	p.setBackends(&lbBackends{serving: []netip.AddrPort{b}})
	if got := roundTrip(t, addr); got != "b" {
		t.Errorf("with only a terminating endpoint: got %q, want b", got)
	}
	for _, bk := range []*lbBackends{{}, {ready: []netip.AddrPort{closedPort(t)}}} {
		p.setBackends(bk)
		if err := readReset(addr); !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("endpoints %+v: read %v, want a connection reset", bk, err)
		}
	}
}

func readReset(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 1))
	return err
}

// echoServer answers each connection with its name and what the client sent
// before half-closing.
func echoServer(t *testing.T, name string) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				body, _ := io.ReadAll(c)
				_, _ = c.Write(append([]byte(name+":"), body...))
			}()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

func closedPort(t *testing.T) netip.AddrPort {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ap := netip.MustParseAddrPort(ln.Addr().String())
	ln.Close()
	return ap
}

// roundTrip sends "ping", half-closes and returns the server's name.
func roundTrip(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = c.Write([]byte("ping"))
	_ = c.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading through the proxy: %v", err)
	}
	name, body, _ := strings.Cut(string(b), ":")
	if body != "ping" {
		t.Fatalf("the endpoint received %q, want ping", body)
	}
	return name
}

// TestProxyCloseEndsConnections checks that closing a port (its Service
// went away) ends the connections open through it and stops accepting.
func TestProxyCloseEndsConnections(t *testing.T) {
	hold, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	go func() {
		for {
			c, err := hold.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open until the test ends
		}
	}()
	p, err := listenLB(netip.MustParseAddrPort("127.0.0.1:0"), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	p.setBackends(&lbBackends{ready: []netip.AddrPort{netip.MustParseAddrPort(hold.Addr().String())}})
	c, err := net.Dial("tcp", p.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte("x")) // through to the holding endpoint
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p.close(ctx)
	if ctx.Err() != nil {
		t.Fatal("close did not return: a connection's goroutines are still running")
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("after close, the client's connection: read %v, want it ended", err)
	}
	if c2, err := net.DialTimeout("tcp", p.ln.Addr().String(), time.Second); err == nil {
		c2.Close()
		t.Errorf("the closed port still accepts connections")
	}
}
