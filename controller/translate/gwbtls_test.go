package translate

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	weirtls "weir.dev/weir/tls"
)

// sanBackend is a TLS server whose certificate, signed by a fresh CA, has
// the DNS name san.example.com and the URI spiffe://cluster/ns/a/sa/b; it
// returns the server's address and the CA in PEM.
func sanBackend(t *testing.T) (string, []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	uri, _ := url.Parse("spiffe://cluster/ns/a/sa/b")
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "backend"}, DNSNames: []string{"san.example.com"},
		URIs: []*url.URL{uri}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}

// subjectAltNames decide the backend's identity instead of the hostname;
// the chain must still lead to the policy's CA.
func TestBackendTLSPolicySubjectAltNames(t *testing.T) {
	addr, caPEM := sanBackend(t)
	_, otherCA := sanBackend(t)
	handshake := func(ca []byte, sans ...gatewayv1.SubjectAltName) error {
		gp := &gwPolicy{p: &gatewayv1.BackendTLSPolicy{Spec: gatewayv1.BackendTLSPolicySpec{
			Validation: gatewayv1.BackendTLSPolicyValidation{Hostname: "abc.example.com", SubjectAltNames: sans}}}}
		bt, err := gp.build(weirtls.UpstreamOptions{Verify: true, CA: ca, ServerName: "abc.example.com"})
		require.NoError(t, err)
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, bt.Config)
		if err == nil {
			conn.Close()
		}
		return err
	}
	dns := func(h string) gatewayv1.SubjectAltName {
		return gatewayv1.SubjectAltName{Type: gatewayv1.HostnameSubjectAltNameType, Hostname: gatewayv1.Hostname(h)}
	}
	uri := func(u string) gatewayv1.SubjectAltName {
		return gatewayv1.SubjectAltName{Type: gatewayv1.URISubjectAltNameType, URI: gatewayv1.AbsoluteURI(u)}
	}
	assert.Error(t, handshake(caPEM), "without subjectAltNames the hostname abc.example.com must match")
	assert.NoError(t, handshake(caPEM, dns("san.example.com")))
	assert.NoError(t, handshake(caPEM, dns("other.example.com"), uri("spiffe://cluster/ns/a/sa/b")))
	assert.Error(t, handshake(caPEM, dns("other.example.com"), uri("spiffe://cluster/ns/a/sa/c")))
	assert.Error(t, handshake(otherCA, dns("san.example.com")), "a name alone is not enough: the CA must sign it")
}
