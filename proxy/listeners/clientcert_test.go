package listeners

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testCA signs client certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

func (ca *testCA) client(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// get sends one request over a new connection presenting cert (none when
// nil); an error is a refused handshake.
func get(addr string, cert *tls.Certificate) (int, error) {
	cfg := &tls.Config{ServerName: "app.example.com", InsecureSkipVerify: true}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Get("https://" + addr + "/")
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// A listener with client CAs refuses, in the handshake, clients without a
// certificate they signed; with ClientCertOptional it lets everyone in; a
// new Spec changes the CAs for the next handshake.
func TestListenerClientCertificates(t *testing.T) {
	m, socks := newManager(t)
	good, other := newCA(t, "good"), newCA(t, "other")
	goodCert, otherCert := good.client(t), other.client(t)
	spec := Spec{Key: "gw 443", Addr: "tls", TLS: true, Table: tableTo(t, 1, backend(t, "a")),
		DefaultCertificate: selfSigned(t), ClientCAs: good.pool}
	require.Empty(t, m.Apply([]Spec{spec}))
	addr := socks["tls"].Addr().String()

	code, err := get(addr, &goodCert)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
	_, err = get(addr, &otherCert)
	assert.Error(t, err, "a certificate another CA signed")
	_, err = get(addr, nil)
	assert.Error(t, err, "no certificate")

	spec.Table, spec.ClientCertOptional = tableTo(t, 2, backend(t, "a")), true
	require.Empty(t, m.Apply([]Spec{spec}))
	for _, c := range []*tls.Certificate{&goodCert, &otherCert, nil} {
		code, err := get(addr, c)
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, code)
	}

	spec.Table, spec.ClientCAs, spec.ClientCertOptional = tableTo(t, 3, backend(t, "a")), other.pool, false
	require.Empty(t, m.Apply([]Spec{spec}))
	_, err = get(addr, &goodCert)
	assert.Error(t, err, "the CAs changed")
	code, err = get(addr, &otherCert)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, code)
}
