package listeners

import (
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	weirtls "weir.dev/weir/tls"
)

// A request whose Host belongs to another listener of the port than the
// one its connection's SNI chose gets 421; the same listener (exact or
// wildcard) is served. Cases after the upstream suite's
// HTTPRouteHTTPSListenerDetectMisdirectedRequests.
func TestMisdirectedRequestsGet421(t *testing.T) {
	m, socks := newManager(t)
	cert := selfSigned(t)
	require.Empty(t, m.Apply([]Spec{{Key: "gw 443", Addr: "tls", TLS: true, Table: tableTo(t, 1, backend(t, "a")),
		DefaultCertificate: cert, Certificates: map[string]*weirtls.Certificate{
			"second.example.org": cert, "*.wildcard.org": cert, "fourth.wildcard.org": cert}}}))
	addr := socks["tls"].Addr().String()
	for _, c := range []struct {
		sni, host string
		want      int
	}{
		{"example.org", "example.org", 200},
		{"example.org", "second.example.org", 421},
		{"example.org", "unknown.example.org", 200}, // both the listener without hostname
		{"second.example.org", "second.example.org:443", 200},
		{"second.example.org", "example.org", 421},
		{"third.wildcard.org", "fifth.wildcard.org", 200},
		{"third.wildcard.org", "fourth.wildcard.org", 421},
		{"fourth.wildcard.org", "fifth.wildcard.org", 421},
		{"", "second.example.org", 200}, // no SNI: nothing to compare
	} {
		for _, proto := range []string{"h2", "http/1.1"} {
			assert.Equal(t, c.want, status(t, addr, c.sni, c.host, proto), "SNI %q Host %q over %s", c.sni, c.host, proto)
		}
	}
}

func status(t *testing.T, addr, sni, host, proto string) int {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{ServerName: sni, InsecureSkipVerify: true}, ForceAttemptHTTP2: proto == "h2",
		DisableKeepAlives: true}
	if proto != "h2" {
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, "https://"+addr+"/", nil)
	require.NoError(t, err)
	req.Host = host
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if proto == "h2" {
		require.Equal(t, 2, resp.ProtoMajor)
	}
	return resp.StatusCode
}
