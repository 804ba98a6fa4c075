package tls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const mtlsHost = "mtls.example.com"

// serveClientAuth runs Weir's server config on loopback: mtlsHost asks for a
// client certificate, testHost does not. The handler answers with what the
// policy of mtlsHost decides for the request's connection.
func serveClientAuth(t *testing.T, ca *testCA, policy *ClientAuth) string {
	t.Helper()
	snap, err := NewSnapshot(ca.parsed(t, leafSpec{cn: "server", names: []string{mtlsHost, testHost}}), nil)
	require.NoError(t, err)
	snap, err = snap.WithClientAuth(map[string]*x509.CertPool{mtlsHost: policy.Roots})
	require.NoError(t, err)
	keys, err := NewTicketKeys(0)
	require.NoError(t, err)
	cfg := ServerConfig(NewStore(snap), Options{TicketKeys: keys})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{TLSConfig: cfg, ReadHeaderTimeout: 5 * time.Second, ErrorLog: quietLog(),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v := policy.Check(r.TLS)
			if !v.OK {
				w.WriteHeader(http.StatusBadRequest)
			}
			_, _ = io.WriteString(w, v.Verify)
			if v.Leaf != nil {
				_, _ = io.WriteString(w, " "+v.Leaf.Subject.CommonName)
			}
		})}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return ln.Addr().String()
}

// clientWith is a TLS client config that trusts ca and presents cert
// (none when cert is nil).
func clientWith(ca *testCA, host string, cert *Certificate) *tls.Config {
	cfg := clientConfig(ca, host)
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert.TLSCertificate()}
	}
	return cfg
}

func ask(t *testing.T, addr string, cfg *tls.Config) (int, string) {
	t.Helper()
	c := newClient(t, addr, cfg, true)
	resp, err := c.Get("https://" + cfg.ServerName + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func TestClientCertificateModesThroughARealListener(t *testing.T) {
	ca, stranger := newTestCA(t), newTestCA(t)
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	good := ca.parsed(t, leafSpec{cn: "alice", client: true})
	foreign := stranger.parsed(t, leafSpec{cn: "mallory", client: true})
	serverUsage := ca.parsed(t, leafSpec{cn: "server-usage"})

	for _, tc := range []struct {
		mode       ClientVerify
		cert       *Certificate
		wantStatus int
		wantBody   string
	}{
		{VerifyOn, good, 200, "SUCCESS alice"},
		{VerifyOn, nil, 400, "NONE"},
		{VerifyOn, foreign, 400, "FAILED:certificate verify failed mallory"},
		{VerifyOn, serverUsage, 400, "FAILED:certificate verify failed server-usage"},
		{VerifyOptional, nil, 200, "NONE"},
		{VerifyOptional, good, 200, "SUCCESS alice"},
		{VerifyOptional, foreign, 400, "FAILED:certificate verify failed mallory"},
		{VerifyOptionalNoCA, foreign, 200, "NONE mallory"},
		{VerifyOptionalNoCA, nil, 200, "NONE"},
	} {
		name := string(tc.mode) + "/"
		if tc.cert != nil {
			name += tc.cert.TLSCertificate().Leaf.Subject.CommonName
		}
		t.Run(name, func(t *testing.T) {
			policy := &ClientAuth{Mode: tc.mode, Roots: roots, Depth: 1}
			if tc.mode == VerifyOptionalNoCA {
				policy.Roots = nil
			}
			addr := serveClientAuth(t, ca, policy)
			status, body := ask(t, addr, clientWith(ca, mtlsHost, tc.cert))
			assert.Equal(t, tc.wantStatus, status)
			assert.Equal(t, tc.wantBody, body)
		})
	}
}

func TestClientCertificateAskedOnlyOnItsHosts(t *testing.T) {
	ca := newTestCA(t)
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	addr := serveClientAuth(t, ca, &ClientAuth{Mode: VerifyOn, Roots: roots})
	good := ca.parsed(t, leafSpec{cn: "alice", client: true})
	// A client that connects with another SNI is never asked: the request
	// for mtlsHost's route then finds no certificate (the proxy answers 400).
	cfg := clientWith(ca, testHost, good)
	var asked bool
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		asked = true
		return good.TLSCertificate(), nil
	}
	status, body := ask(t, addr, cfg)
	assert.Equal(t, 400, status)
	assert.Equal(t, "NONE", body)
	assert.False(t, asked, "a host without a policy does not ask for a certificate")

	// The CertificateRequest names the host's CA.
	cfg = clientWith(ca, mtlsHost, nil)
	var names [][]byte
	cfg.GetClientCertificate = func(info *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		names = info.AcceptableCAs
		return good.TLSCertificate(), nil
	}
	status, _ = ask(t, addr, cfg)
	assert.Equal(t, 200, status)
	require.Len(t, names, 1)
	assert.Equal(t, ca.cert.RawSubject, names[0])
}

func TestClientCertificateVerifyDepth(t *testing.T) {
	root := newTestCA(t)
	mid := root.intermediate(t)
	roots := x509.NewCertPool()
	roots.AddCert(root.cert)
	is := mid.issue(t, leafSpec{cn: "deep", client: true}) // leaf, intermediate
	cert, err := ParseKeyPair(is.certPEM, is.keyPEM)
	require.NoError(t, err)
	chain := []*x509.Certificate{cert.TLSCertificate().Leaf, mid.cert}
	state := &tls.ConnectionState{PeerCertificates: chain}
	assert.Equal(t, "FAILED:certificate chain too long", (&ClientAuth{Mode: VerifyOn, Roots: roots, Depth: 1}).Check(state).Verify)
	assert.Equal(t, "SUCCESS", (&ClientAuth{Mode: VerifyOn, Roots: roots, Depth: 2}).Check(state).Verify)
	assert.False(t, (&ClientAuth{Mode: VerifyOn, Roots: roots}).Check(nil).OK, "plain HTTP has no certificate")
}

func TestEscapedPEMRoundTrips(t *testing.T) {
	ca := newTestCA(t)
	leaf := ca.parsed(t, leafSpec{cn: "alice", client: true}).TLSCertificate().Leaf
	esc := EscapedPEM(leaf)
	assert.NotContains(t, esc, "\n")
	assert.NotContains(t, esc, " ")
	assert.True(t, strings.HasPrefix(esc, "-----BEGIN%20CERTIFICATE-----%0A"), esc[:40])
	back, err := url.PathUnescape(esc)
	require.NoError(t, err)
	assert.Contains(t, back, "-----END CERTIFICATE-----\n")
}

func TestParseCAs(t *testing.T) {
	ca := newTestCA(t)
	_, err := ParseCAs(ca.pem)
	require.NoError(t, err)
	_, err = ParseCAs([]byte("not pem"))
	assert.ErrorIs(t, err, errNoClientCA)
}
