package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/proxy/endpoint"
	"weir.dev/weir/proxy/table"
	weirtls "weir.dev/weir/tls"
)

// testIssuer makes a CA and the client certificates it signs.
type testIssuer struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newIssuer(t *testing.T, cn string) *testIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testIssuer{cert: cert, key: key}
}

func (is *testIssuer) client(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn, Organization: []string{"Example"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, is.cert, &key.PublicKey, is.key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// headersEcho answers with the ssl-client-* headers it received.
func headersEcho(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "verify=%s subject=%s issuer=%s cert=%d", r.Header.Get("Ssl-Client-Verify"),
			r.Header.Get("Ssl-Client-Subject-Dn"), r.Header.Get("Ssl-Client-Issuer-Dn"), len(r.Header.Get("Ssl-Client-Cert")))
		if c := r.Header.Get("Ssl-Client-Cert"); c != "" {
			pemText, err := url.QueryUnescape(c)
			if err == nil {
				fmt.Fprintf(w, " pem-ok=%t", len(pemText) > 0 && pemText[:27] == "-----BEGIN CERTIFICATE-----")
			}
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// mtlsFront serves the proxy over TLS as cmd/weir does: weirtls.ServerConfig
// on a store whose snapshot asks for client certificates on the given hosts.
func mtlsFront(t *testing.T, hosts map[string]*x509.CertPool, routes ...*table.Route) string {
	t.Helper()
	reg := endpoint.NewRegistry(endpoint.Options{})
	t.Cleanup(reg.Close)
	srv := New(Options{}, reg, nil, nil)
	t.Cleanup(srv.Close)
	tb, err := table.New(1, routes, nil)
	require.NoError(t, err)
	srv.Publish(tb)
	def, err := weirtls.SelfSigned(time.Now())
	require.NoError(t, err)
	snap, err := weirtls.NewSnapshot(def, nil)
	require.NoError(t, err)
	snap, err = snap.WithClientAuth(hosts)
	require.NoError(t, err)
	sopts := ServerOptions{TLS: weirtls.ServerConfig(weirtls.NewStore(snap), weirtls.Options{})}
	return serveOn(t, NewHTTPServer("", srv, sopts, nil), sopts.TLS)
}

// mtlsGet sends GET https://host/ to addr with SNI sni, presenting certs[0]
// whenever asked, whichever CAs the request names.
func mtlsGet(t *testing.T, addr, sni, host string, certs ...tls.Certificate) (int, string, http.Header) {
	t.Helper()
	conf := &tls.Config{ServerName: sni, InsecureSkipVerify: true} //nolint:gosec // the front's certificate is self-signed
	conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if len(certs) == 0 {
			return &tls.Certificate{}, nil
		}
		return &certs[0], nil
	}
	tr := &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: conf,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		}}
	t.Cleanup(tr.CloseIdleConnections)
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, err := http.NewRequest(http.MethodGet, "https://"+host+"/", nil)
	require.NoError(t, err)
	req.Header.Set("Ssl-Client-Verify", "SUCCESS") // a client's own value never reaches the backend
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body), resp.Header
}

func TestClientCertificatesThroughTheProxy(t *testing.T) {
	ca, stranger := newIssuer(t, "Client CA"), newIssuer(t, "Stranger CA")
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	back := headersEcho(t)
	on := routeTo("mtls.test", "/", backendOf("app", back))
	on.Action.ClientCert = &weirtls.ClientAuth{Mode: weirtls.VerifyOn, Roots: roots, Depth: 1, PassCertificate: true}
	optional := routeTo("optional.test", "/", backendOf("app", back))
	optional.Action.ClientCert = &weirtls.ClientAuth{Mode: weirtls.VerifyOptional, Roots: roots, Depth: 1,
		ErrorPage: "https://example.com/cert-error"}
	matched := routeTo("match.test", "/", backendOf("app", back))
	matched.Action.ClientCert = &weirtls.ClientAuth{Mode: weirtls.VerifyOn, Roots: roots, Depth: 1,
		MatchSubject: regexp.MustCompile("CN=alice")}
	open := routeTo("open.test", "/", backendOf("app", back))
	addr := mtlsFront(t, map[string]*x509.CertPool{"mtls.test": roots, "optional.test": roots, "match.test": roots},
		on, optional, matched, open)
	alice, bob, mallory := ca.client(t, "alice"), ca.client(t, "bob"), stranger.client(t, "mallory")

	code, body, _ := mtlsGet(t, addr, "mtls.test", "mtls.test", alice)
	assert.Equal(t, 200, code)
	assert.Regexp(t, `^verify=SUCCESS subject=CN=alice,O=Example issuer=CN=Client CA cert=\d+ pem-ok=true$`, body)

	code, body, _ = mtlsGet(t, addr, "mtls.test", "mtls.test")
	assert.Equal(t, 400, code, body)
	code, body, _ = mtlsGet(t, addr, "mtls.test", "mtls.test", mallory)
	assert.Equal(t, 400, code, body)
	// Another SNI gets no certificate request; the route still needs one.
	code, _, _ = mtlsGet(t, addr, "open.test", "mtls.test", alice)
	assert.Equal(t, 400, code, "the route's policy applies whatever SNI the client chose")

	code, body, _ = mtlsGet(t, addr, "optional.test", "optional.test")
	assert.Equal(t, 200, code)
	assert.Equal(t, "verify=NONE subject= issuer= cert=0", body, "the client's own ssl-client-verify was removed")
	code, _, h := mtlsGet(t, addr, "optional.test", "optional.test", mallory)
	assert.Equal(t, http.StatusFound, code)
	assert.Equal(t, "https://example.com/cert-error", h.Get("Location"))

	code, _, _ = mtlsGet(t, addr, "match.test", "match.test", alice)
	assert.Equal(t, 200, code)
	code, _, _ = mtlsGet(t, addr, "match.test", "match.test", bob)
	assert.Equal(t, http.StatusForbidden, code)

	code, body, _ = mtlsGet(t, addr, "open.test", "open.test")
	assert.Equal(t, 200, code)
	assert.Equal(t, "verify=SUCCESS subject= issuer= cert=0", body, "routes without a policy leave headers alone")
}
