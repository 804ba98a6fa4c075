package proxy

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"weir.dev/weir/proxy/endpoint"
	"weir.dev/weir/proxy/table"
	weirtls "weir.dev/weir/tls"
)

// tlsBackend is an HTTPS backend (httptest's certificate names example.com
// and 127.0.0.1) that answers with the client certificate it got, if any.
func tlsBackend(t *testing.T, requireClient *x509.CertPool) *httptest.Server {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cn := "none"
		if len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		fmt.Fprintf(w, "tls backend client=%s sni=%s", cn, r.TLS.ServerName)
	}))
	if requireClient != nil {
		s.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: requireClient}
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func backendTLSOf(t *testing.T, opts weirtls.UpstreamOptions) *table.BackendTLS {
	t.Helper()
	conf, err := weirtls.UpstreamConfig(opts)
	require.NoError(t, err)
	return &table.BackendTLS{Config: conf, Key: fmt.Sprintf("%+v", opts)}
}

func TestBackendTLSVerificationAndClientCertificate(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	reg := endpoint.NewRegistry(endpoint.Options{})
	t.Cleanup(reg.Close)
	h := &harness{t: t, srv: New(Options{}, reg, nil, zap.New(core))}
	h.front = startFront(t, h.srv)
	t.Cleanup(h.front.Close)
	t.Cleanup(h.srv.Close)

	back := tlsBackend(t, nil)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: back.Certificate().Raw})
	foreign := newIssuer(t, "Foreign CA")
	foreignPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: foreign.cert.Raw})

	route := func(host string, bt *table.BackendTLS, s *httptest.Server) *table.Route {
		b := backendOf(host, s)
		b.Protocol, b.TLS = table.HTTPS, bt
		return routeTo(host, "/", b)
	}
	ca := newIssuer(t, "Backend client CA")
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	mutual := tlsBackend(t, pool)
	weirCert := ca.client(t, "weir")
	keyDER, err := x509.MarshalPKCS8PrivateKey(weirCert.PrivateKey)
	require.NoError(t, err)
	clientCert, err := weirtls.ParseKeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: weirCert.Certificate[0]}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	require.NoError(t, err)

	h.publish(
		route("verified.test", backendTLSOf(t, weirtls.UpstreamOptions{Verify: true, CA: caPEM, ServerName: "example.com", VerifyDepth: 1}), back),
		route("nosni.test", backendTLSOf(t, weirtls.UpstreamOptions{Verify: true, CA: caPEM, ServerName: "example.com", OmitSNI: true, VerifyDepth: 1}), back),
		route("wrongca.test", backendTLSOf(t, weirtls.UpstreamOptions{Verify: true, CA: foreignPEM, ServerName: "example.com"}), back),
		route("wrongname.test", backendTLSOf(t, weirtls.UpstreamOptions{Verify: true, CA: caPEM, ServerName: "db.example.org", OmitSNI: true}), back),
		route("mutual.test", backendTLSOf(t, weirtls.UpstreamOptions{ClientCertificate: clientCert}), mutual),
		route("nocert.test", backendTLSOf(t, weirtls.UpstreamOptions{}), mutual),
	)

	code, body := h.get("verified.test", "/")
	assert.Equal(t, 200, code)
	assert.Equal(t, "tls backend client=none sni=example.com", body)
	code, body = h.get("nosni.test", "/")
	assert.Equal(t, 200, code)
	assert.Equal(t, "tls backend client=none sni=", body, "proxy-ssl-server-name off sends no SNI, and still verifies the name")
	code, body = h.get("mutual.test", "/")
	assert.Equal(t, 200, code)
	assert.Equal(t, "tls backend client=weir sni=", body)

	for _, host := range []string{"wrongca.test", "wrongname.test", "nocert.test"} {
		code, _ := h.get(host, "/")
		assert.Equal(t, http.StatusBadGateway, code, host)
	}
	var logged []string
	for _, e := range logs.All() {
		logged = append(logged, e.ContextMap()["host"].(string)+" "+fmt.Sprint(e.ContextMap()["error"]))
	}
	joined := strings.Join(logged, "\n")
	assert.Contains(t, joined, "wrongca.test")
	assert.Contains(t, joined, "certificate", "the verification failure is logged")
	assert.Contains(t, joined, "wrongname.test")
}
