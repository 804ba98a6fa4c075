package tls

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// backend starts an HTTPS backend on loopback with a certificate for
// "backend.internal" from ca; with clientCA set it requires a client
// certificate signed by it.
func backend(t *testing.T, ca *testCA, clientCA *testCA) string {
	t.Helper()
	cert := ca.parsed(t, leafSpec{names: []string{"backend.internal"}})
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	ts.EnableHTTP2 = true
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{*cert.TLSCertificate()}, NextProtos: []string{"h2", "http/1.1"}}
	if clientCA != nil {
		pool := x509.NewCertPool()
		pool.AddCert(clientCA.cert)
		ts.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		ts.TLS.ClientCAs = pool
	}
	ts.Config.ErrorLog = quietLog()
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts.Listener.Addr().String()
}

func dialUpstream(addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	// TLS 1.3 reports a rejected client certificate only on the first read.
	if err := conn.Handshake(); err != nil {
		return tls.ConnectionState{}, err
	}
	_ = conn.SetReadDeadline(deadlineSoon())
	if _, err := conn.Read(make([]byte, 1)); err != nil {
		if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
			return tls.ConnectionState{}, err
		}
	}
	return conn.ConnectionState(), nil
}

func TestUpstreamConfig(t *testing.T) {
	ca, otherCA, clientCA := newTestCA(t), newTestCA(t), newTestCA(t)
	plain := backend(t, ca, nil)
	viaIntermediate := backend(t, ca.intermediate(t), nil)
	mtls := backend(t, ca, clientCA)
	clientCert := clientCA.parsed(t, leafSpec{cn: "weir", client: true})

	tests := []struct {
		name     string
		addr     string
		opts     UpstreamOptions
		ok       bool
		wantALPN string
	}{
		{name: "default skips verification", addr: plain, opts: UpstreamOptions{}, ok: true, wantALPN: "http/1.1"},
		{name: "verify with CA and name", addr: plain, opts: UpstreamOptions{Verify: true, CA: ca.pem, ServerName: "backend.internal"}, ok: true},
		{name: "verify with the wrong CA", addr: plain, opts: UpstreamOptions{Verify: true, CA: otherCA.pem, ServerName: "backend.internal"}},
		{name: "verify with the wrong name", addr: plain, opts: UpstreamOptions{Verify: true, CA: ca.pem, ServerName: "other.internal"}},
		{name: "verify with system roots", addr: plain, opts: UpstreamOptions{Verify: true, ServerName: "backend.internal"}},
		{name: "depth 1 accepts a directly signed backend", addr: plain, opts: UpstreamOptions{Verify: true, CA: ca.pem, ServerName: "backend.internal", VerifyDepth: 1}, ok: true},
		{name: "depth 1 refuses an intermediate", addr: viaIntermediate, opts: UpstreamOptions{Verify: true, CA: ca.pem, ServerName: "backend.internal", VerifyDepth: 1}},
		{name: "depth 2 accepts an intermediate", addr: viaIntermediate, opts: UpstreamOptions{Verify: true, CA: ca.pem, ServerName: "backend.internal", VerifyDepth: 2}, ok: true},
		{name: "no depth limit", addr: viaIntermediate, opts: UpstreamOptions{Verify: true, CA: ca.pem, ServerName: "backend.internal"}, ok: true},
		{name: "h2 offered", addr: plain, opts: UpstreamOptions{HTTP2: true}, ok: true, wantALPN: "h2"},
		{name: "client certificate", addr: mtls, opts: UpstreamOptions{ClientCertificate: clientCert}, ok: true},
		{name: "client certificate required", addr: mtls, opts: UpstreamOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := UpstreamConfig(tt.opts)
			require.NoError(t, err)
			state, err := dialUpstream(tt.addr, cfg)
			if !tt.ok {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			if tt.wantALPN != "" {
				assert.Equal(t, tt.wantALPN, state.NegotiatedProtocol)
			}
		})
	}
}

func TestUpstreamConfigErrors(t *testing.T) {
	_, err := UpstreamConfig(UpstreamOptions{Verify: true, CA: []byte("not a PEM bundle")})
	assert.ErrorIs(t, err, errNoCA)

	cfg, err := UpstreamConfig(UpstreamOptions{})
	require.NoError(t, err)
	assert.True(t, cfg.InsecureSkipVerify, "ingress-nginx parity: no upstream verification by default")
	assert.Equal(t, uint16(tls.VersionTLS12), cfg.MinVersion)
	assert.Equal(t, []string{"http/1.1"}, cfg.NextProtos)
}
