package tls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testHost = "app.example.com"

// serveTLS runs an HTTPS server with cfg on loopback, the way Weir's
// listeners do: http.Server.ServeTLS (which clones cfg), with HTTP/2 unless
// h2 is false. It answers with the protocol used.
func serveTLS(t *testing.T, cfg *tls.Config, h2 bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, r.Proto)
		}),
		TLSConfig:         cfg,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          quietLog(),
	}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(h2)
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return ln.Addr().String()
}

func clientConfig(ca *testCA, serverName string) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return &tls.Config{RootCAs: pool, ServerName: serverName}
}

// newClient returns an HTTP client whose every connection goes to addr.
func newClient(t *testing.T, addr string, cfg *tls.Config, h2 bool) *http.Client {
	t.Helper()
	tr := &http.Transport{
		TLSClientConfig:   cfg,
		ForceAttemptHTTP2: h2,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

type getResult struct {
	proto  string
	serial string
	reused bool
}

func get(t *testing.T, c *http.Client, host string) getResult {
	t.Helper()
	var res getResult
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { res.reused = i.Reused }}
	ctx := httptrace.WithClientTrace(context.Background(), trace)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/", nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	res.proto = string(body)
	res.serial = resp.TLS.PeerCertificates[0].SerialNumber.String()
	return res
}

func TestRotationKeepsOpenConnections(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			ca := newTestCA(t)
			def := ca.parsed(t, leafSpec{names: []string{"default.local"}})
			certA := ca.parsed(t, leafSpec{names: []string{testHost}})
			certB := ca.parsed(t, leafSpec{names: []string{testHost}, kind: keyEd25519})
			snapA, err := NewSnapshot(def, map[string]*Certificate{testHost: certA})
			require.NoError(t, err)
			snapB, err := NewSnapshot(def, map[string]*Certificate{testHost: certB})
			require.NoError(t, err)
			store := NewStore(snapA)
			addr := serveTLS(t, ServerConfig(store, Options{}), true)

			wantProto := "HTTP/1.1"
			if h2 {
				wantProto = "HTTP/2.0"
			}
			old := newClient(t, addr, clientConfig(ca, testHost), h2)
			first := get(t, old, testHost)
			assert.Equal(t, certA.Leaf().SerialNumber.String(), first.serial)
			assert.Equal(t, wantProto, first.proto)

			store.Swap(snapB)

			fresh := get(t, newClient(t, addr, clientConfig(ca, testHost), h2), testHost)
			assert.Equal(t, certB.Leaf().SerialNumber.String(), fresh.serial, "new handshakes see the new certificate")

			again := get(t, old, testHost)
			assert.True(t, again.reused, "the request went over the connection opened before the swap")
			assert.Equal(t, certA.Leaf().SerialNumber.String(), again.serial)
		})
	}
}

func TestHandshakeDefaultCertificate(t *testing.T) {
	ca := newTestCA(t)
	def, err := SelfSigned(time.Now())
	require.NoError(t, err)
	known := ca.parsed(t, leafSpec{names: []string{testHost}})
	snap, err := NewSnapshot(def, map[string]*Certificate{testHost: known})
	require.NoError(t, err)
	addr := serveTLS(t, ServerConfig(NewStore(snap), Options{}), true)

	for _, sni := range []string{"", "other.example.com"} {
		conn, err := tls.Dial("tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true}) //nolint:gosec // inspecting the served certificate
		require.NoError(t, err)
		assert.Equal(t, DefaultCertificateCN, conn.ConnectionState().PeerCertificates[0].Subject.CommonName, "SNI %q", sni)
		_ = conn.Close()
	}
}

func TestALPN(t *testing.T) {
	ca := newTestCA(t)
	snap, err := NewSnapshot(ca.parsed(t, leafSpec{names: []string{testHost}}), nil)
	require.NoError(t, err)
	store := NewStore(snap)
	withH2 := serveTLS(t, ServerConfig(store, Options{}), true)
	withoutH2 := serveTLS(t, ServerConfig(store, Options{DisableHTTP2: true}), false)

	tests := []struct {
		name   string
		addr   string
		offer  []string
		wanted string
	}{
		{"h2 client", withH2, []string{"h2", "http/1.1"}, "h2"},
		{"http/1.1 client", withH2, []string{"http/1.1"}, "http/1.1"},
		{"no ALPN", withH2, nil, ""},
		{"h2 disabled", withoutH2, []string{"h2", "http/1.1"}, "http/1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := clientConfig(ca, testHost)
			cfg.NextProtos = tt.offer
			conn, err := tls.Dial("tcp", tt.addr, cfg)
			require.NoError(t, err)
			defer conn.Close()
			assert.Equal(t, tt.wanted, conn.ConnectionState().NegotiatedProtocol)
		})
	}

	assert.Equal(t, "HTTP/2.0", get(t, newClient(t, withH2, clientConfig(ca, testHost), true), testHost).proto)
	assert.Equal(t, "HTTP/1.1", get(t, newClient(t, withoutH2, clientConfig(ca, testHost), true), testHost).proto)
}

func TestMinVersion(t *testing.T) {
	ca := newTestCA(t)
	snap, err := NewSnapshot(ca.parsed(t, leafSpec{names: []string{testHost}}), nil)
	require.NoError(t, err)
	store := NewStore(snap)
	tests := []struct {
		name      string
		serverMin uint16
		clientMax uint16
		ok        bool
	}{
		{"default refuses 1.1", 0, tls.VersionTLS11, false},
		{"default accepts 1.2", 0, tls.VersionTLS12, true},
		{"lower values are raised to 1.2", tls.VersionTLS10, tls.VersionTLS11, false},
		{"1.3 refuses 1.2", tls.VersionTLS13, tls.VersionTLS12, false},
		{"1.3 accepts 1.3", tls.VersionTLS13, tls.VersionTLS13, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := serveTLS(t, ServerConfig(store, Options{MinVersion: tt.serverMin}), true)
			cfg := clientConfig(ca, testHost)
			cfg.MinVersion = tls.VersionTLS10
			cfg.MaxVersion = tt.clientMax
			conn, err := tls.Dial("tcp", addr, cfg)
			if tt.ok {
				require.NoError(t, err)
				_ = conn.Close()
			} else {
				require.Error(t, err)
			}
		})
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in   string
		want uint16
		err  bool
	}{
		{"", tls.VersionTLS12, false},
		{"1.2", tls.VersionTLS12, false},
		{"TLSv1.2", tls.VersionTLS12, false},
		{" 1.3 ", tls.VersionTLS13, false},
		{"TLSv1.3", tls.VersionTLS13, false},
		{"1.1", 0, true},
		{"1.0", 0, true},
		{"SSLv3", 0, true},
		{"1.4", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseVersion(tt.in)
		if tt.err {
			assert.Error(t, err, tt.in)
			continue
		}
		assert.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
}

func TestServerConfigDefaults(t *testing.T) {
	cfg := ServerConfig(&Store{}, Options{})
	assert.Equal(t, uint16(tls.VersionTLS12), cfg.MinVersion)
	assert.Equal(t, []string{"h2", "http/1.1"}, cfg.NextProtos)
	assert.Nil(t, cfg.CipherSuites, "Go's default suites, see ServerConfig")
	assert.NotNil(t, cfg.GetCertificate)
	assert.Nil(t, cfg.WrapSession, "no TicketKeys: crypto/tls's own keys")
	assert.True(t, ServerConfig(&Store{}, Options{DisableSessionTickets: true}).SessionTicketsDisabled)
}

func TestHandshakeFailsWithoutSnapshot(t *testing.T) {
	addr := serveTLS(t, ServerConfig(&Store{}, Options{}), true)
	_, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // expecting an alert
	require.Error(t, err, "no snapshot: the handshake fails instead of blocking")
}
