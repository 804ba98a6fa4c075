package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	weirtls "weir.dev/weir/tls"
)

// crlIssuer is a CA allowed to sign CRLs; its clients get the serials
// asked for.
func crlIssuer(t *testing.T) *testIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Revoking CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testIssuer{cert: cert, key: key}
}

func (is *testIssuer) clientSerial(t *testing.T, cn string, serial int64) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, is.cert, &key.PublicKey, is.key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// A certificate that auth-tls-secret's ca.crl lists is refused with 400,
// as ingress-nginx refuses it; the others still pass.
func TestRevokedClientCertificateThroughTheProxy(t *testing.T) {
	ca := crlIssuer(t)
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	now := time.Now()
	crlDER, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1),
		ThisUpdate: now.Add(-time.Hour), NextUpdate: now.Add(time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: big.NewInt(66), RevocationTime: now.Add(-time.Minute)}}},
		ca.cert, ca.key)
	require.NoError(t, err)
	crls, err := weirtls.ParseCRLs(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crlDER}))
	require.NoError(t, err)

	back := headersEcho(t)
	rt := routeTo("mtls.test", "/", backendOf("app", back))
	rt.Action.ClientCert = &weirtls.ClientAuth{Mode: weirtls.VerifyOn, Roots: roots, Depth: 1, CRL: crls}
	addr := mtlsFront(t, map[string]*x509.CertPool{"mtls.test": roots}, rt)

	code, body, _ := mtlsGet(t, addr, "mtls.test", "mtls.test", ca.clientSerial(t, "alice", 65))
	assert.Equal(t, 200, code, body)
	assert.Contains(t, body, "verify=SUCCESS")
	code, body, _ = mtlsGet(t, addr, "mtls.test", "mtls.test", ca.clientSerial(t, "mallory", 66))
	assert.Equal(t, 400, code, body)
	assert.NotContains(t, body, "verify=", "the backend never sees a revoked client")
}
