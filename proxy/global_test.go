package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/controller/globalconfig"
	"weir.dev/weir/proxy/proxyproto"
)

// global turns ConfigMap data into the proxy's Global, as cmd/weir does.
func global(t *testing.T, data map[string]string) *Global {
	c, ps := globalconfig.Parse(data)
	require.Empty(t, ps)
	g := &Global{Trusted: c.Forwarded.Trusted, ForwardedFor: c.Forwarded.Header, ComputeFull: c.Forwarded.ComputeFull,
		BlockCIDRs: c.Block.CIDRs}
	for _, p := range c.Block.UserAgents {
		g.BlockUserAgents = append(g.BlockUserAgents, p)
	}
	for _, p := range c.Block.Referers {
		g.BlockReferers = append(g.BlockReferers, p)
	}
	return g
}

func TestConfigMapForwardedHeaders(t *testing.T) {
	h := newHarness(t, Options{})
	h.publish(routeTo("a.test", "/", backendOf("a", named(t, "a"))))
	_, body := h.get("a.test", "/", "X-Forwarded-For", "6.6.6.6")
	assert.Contains(t, body, "xff=127.0.0.1 ", "not believed without the ConfigMap")

	h.srv.SetGlobal(global(t, map[string]string{"use-forwarded-headers": "true", "proxy-real-ip-cidr": "127.0.0.0/8"}))
	_, body = h.get("a.test", "/", "X-Forwarded-For", "6.6.6.6", "X-Forwarded-Proto", "https")
	assert.Contains(t, body, "xff=6.6.6.6 ", "ingress-nginx sends the client alone")
	assert.Contains(t, body, "proto=https ", "the peer's X-Forwarded-Proto is kept")

	h.srv.SetGlobal(global(t, map[string]string{"use-forwarded-headers": "true", "compute-full-forwarded-for": "true"}))
	_, body = h.get("a.test", "/", "X-Forwarded-For", "6.6.6.6")
	assert.Contains(t, body, "xff=6.6.6.6, 127.0.0.1 ", "the chain is extended (the default proxy-real-ip-cidr, 0.0.0.0/0, holds the peer)")
}

func TestConfigMapForwardedForHeaderAndBlocks(t *testing.T) {
	h := newHarness(t, Options{})
	h.publish(routeTo("a.test", "/", backendOf("a", named(t, "a"))))
	h.srv.SetGlobal(global(t, map[string]string{"enable-real-ip": "true", "forwarded-for-header": "CF-Connecting-IP",
		"block-cidrs": "203.0.113.0/24", "block-user-agents": "~*bot,curl/8.0", "block-referers": "~spam\\.example"}))
	code, body := h.get("a.test", "/", "CF-Connecting-IP", "198.51.100.1")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, "xff=198.51.100.1 ")
	code, _ = h.get("a.test", "/", "CF-Connecting-IP", "203.0.113.9")
	assert.Equal(t, 403, code, "the real client is in block-cidrs")
	code, _ = h.get("nowhere.test", "/", "CF-Connecting-IP", "203.0.113.9")
	assert.Equal(t, 403, code, "blocked on every host")
	code, _ = h.get("a.test", "/", "User-Agent", "FriendlyBOT/1.0")
	assert.Equal(t, 403, code)
	code, _ = h.get("a.test", "/", "User-Agent", "curl/8.0")
	assert.Equal(t, 403, code)
	code, _ = h.get("a.test", "/", "User-Agent", "curl/8.1")
	assert.Equal(t, 200, code, "exact entries match exactly")
	code, _ = h.get("a.test", "/", "Referer", "http://spam.example/x")
	assert.Equal(t, 403, code)
	h.srv.SetGlobal(nil)
	code, _ = h.get("a.test", "/", "User-Agent", "FriendlyBOT/1.0")
	assert.Equal(t, 200, code, "a new configuration applies at once")
}

// PROXY protocol on the listener names the client: the backend sees it,
// and block-cidrs applies to it.
func TestProxyProtocolThroughTheProxy(t *testing.T) {
	h := newHarness(t, Options{})
	h.publish(routeTo("a.test", "/", backendOf("a", named(t, "a"))))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	pl := proxyproto.NewListener(ln)
	pl.Set(proxyproto.Settings{Enabled: true, Timeout: 10 * time.Second})
	srv := &http.Server{Handler: h.srv, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(pl)
	t.Cleanup(func() { srv.Close() })

	send := func(header string) (int, string) {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
		fmt.Fprintf(c, "%sGET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n", header)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := send("PROXY TCP4 198.51.100.7 10.0.0.1 5000 80\r\n")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, "xff=198.51.100.7 ")

	h.srv.SetGlobal(&Global{BlockCIDRs: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}})
	code, _ = send("PROXY TCP4 198.51.100.7 10.0.0.1 5000 80\r\n")
	assert.Equal(t, 403, code)
	code, _ = send("PROXY TCP4 192.0.2.1 10.0.0.1 5000 80\r\n")
	assert.Equal(t, 200, code)
}
