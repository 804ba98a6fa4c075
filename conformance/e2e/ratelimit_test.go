package e2e

import (
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"weir.dev/weir/conformance/weirdeploy"
)

// TestRateLimit: an Ingress with limit-rps 1 and limit-burst-multiplier 1
// answers 503 (ingress-nginx's default) to a client that outruns it; a
// client whose address is in limit-allowlist is never limited, and another
// Ingress without limits keeps serving the limited client. Limits hold per
// client address and per replica, so the test talks to one replica
// directly, from two addresses of the host: the bridge's and the Weir
// Service's load-balancer address.
func TestRateLimit(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ns := namespace(t, ctx)
	echoApp(t, ctx, ns, "web", 1)
	limited, open := "limited."+ns+".test", "open."+ns+".test"
	createIngress(t, ctx, ingress(ns, "limited", limited, "web", map[string]string{
		canaryPrefix + "limit-rps": "1", canaryPrefix + "limit-burst-multiplier": "1",
		canaryPrefix + "limit-allowlist": "192.0.2.0/24, " + env.address + "/32"}))
	createIngress(t, ctx, ingress(ns, "open", open, "web", nil))
	busy, exempt := clientFrom(env.cluster.BridgeAddr.String()), clientFrom(env.address)
	waitServed(t, exempt, limited, nil, "web")
	waitServed(t, exempt, open, nil, "web")

	replica := weirdeploy.HTTPURL(&env.weirs[0])
	within(t, 30*time.Second, "503 for a client over the limit", func() (bool, string) {
		e, err := getFrom(busy, replica, limited, "/", nil)
		return err == nil && e.Status == http.StatusServiceUnavailable, fmt.Sprintf("status %d, err %v", e.Status, err)
	})
	for i := 0; i < 20; i++ {
		if e, err := getFrom(exempt, replica, limited, "/", nil); err != nil || e.Status != http.StatusOK {
			t.Fatalf("request %d from the allowlisted address: status %d (%v), want 200", i, e.Status, err)
		}
		if e, err := getFrom(busy, replica, open, "/", nil); err != nil || e.Status != http.StatusOK {
			t.Fatalf("request %d to the Ingress without limits: status %d (%v), want 200", i, e.Status, err)
		}
	}
}

// clientFrom is client() with connections from the local address ip.
func clientFrom(ip string) *http.Client {
	c := client()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	c.Transport.(*http.Transport).DialContext = d.DialContext
	return c
}
