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
// answers 503 (ingress-nginx's default) to a client that outruns it, while
// the same client is never limited by an Ingress with the same limits whose
// limit-allowlist holds its address, nor by an Ingress without limits.
// Limits hold per client address and per replica, so the test talks to one
// replica directly, from the bridge's address.
func TestRateLimit(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ns := namespace(t, ctx)
	echoApp(t, ctx, ns, "web", 1)
	bridge := env.cluster.BridgeAddr.String()
	limits := func(allow string) map[string]string {
		a := map[string]string{canaryPrefix + "limit-rps": "1", canaryPrefix + "limit-burst-multiplier": "1"}
		if allow != "" {
			a[canaryPrefix+"limit-allowlist"] = allow
		}
		return a
	}
	hosts := map[string]map[string]string{"limited": limits(""), "allowlisted": limits("192.0.2.0/24, " + bridge + "/32"), "open": nil}
	c := clientFrom(bridge)
	for name, annotations := range hosts {
		createIngress(t, ctx, ingress(ns, name, name+"."+ns+".test", "web", annotations))
	}
	for name := range hosts {
		waitServed(t, c, name+"."+ns+".test", nil, "web")
	}

	replica := weirdeploy.HTTPURL(&env.weirs[0])
	within(t, 30*time.Second, "503 for a client over the limit", func() (bool, string) {
		e, err := getFrom(c, replica, "limited."+ns+".test", "/", nil)
		return err == nil && e.Status == http.StatusServiceUnavailable, fmt.Sprintf("status %d, err %v", e.Status, err)
	})
	for i := 0; i < 20; i++ {
		for _, name := range []string{"allowlisted", "open"} {
			if e, err := getFrom(c, replica, name+"."+ns+".test", "/", nil); err != nil || e.Status != http.StatusOK {
				t.Fatalf("request %d to Ingress %s: status %d (%v), want 200", i, name, e.Status, err)
			}
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
