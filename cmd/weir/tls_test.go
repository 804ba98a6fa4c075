package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testCert makes a self-signed ECDSA certificate for names and returns its
// PEM certificate and key. Nothing is committed: keys exist only in tests.
func testCert(t *testing.T, cn string, names ...string) (certPEM, keyPEM []byte, leaf *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		DNSNames: names, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	leaf, _ = x509.ParseCertificate(der)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), leaf
}

func secretYAML(name string, cert, key []byte) string {
	return fmt.Sprintf(`---
apiVersion: v1
kind: Secret
metadata: {name: %s, namespace: default}
type: kubernetes.io/tls
data:
  tls.crt: %s
  tls.key: %s
`, name, base64.StdEncoding.EncodeToString(cert), base64.StdEncoding.EncodeToString(key))
}

// tlsWorld is Weir (the real wiring of run, in offline mode) serving
// manifests from a temporary directory on loopback listeners.
type tlsWorld struct {
	dir          string
	plain, https string
	backend      string
}

func manifests(backendPort string) string {
	return loopbackService("app", "http", 80, backendPort) + `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: app, namespace: default}
spec:
  ingressClassName: weir
  tls:
  - {hosts: [a.example.com], secretName: cert-a}
  - {hosts: [b.example.com], secretName: cert-b}
  rules:
  - host: a.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
  - host: b.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
  - host: plain.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
`
}

func startTLSWorld(t *testing.T, secrets string) *tlsWorld {
	t.Helper()
	be := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			select { // answers late, or never once the client gave up
			case <-r.Context().Done():
				return
			case <-time.After(5 * time.Second):
			}
		}
		fmt.Fprintf(w, "host=%s proto=%s xfp=%s", r.Host, r.Proto, r.Header.Get("X-Forwarded-Proto"))
	})}
	bln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go be.Serve(bln)
	t.Cleanup(func() { be.Close() })
	_, bport, _ := net.SplitHostPort(bln.Addr().String())

	w := &tlsWorld{dir: t.TempDir(), backend: bport}
	w.write(t, secrets)
	w.plain, w.https = serveManifests(t, w.dir)
	return w
}

func (w *tlsWorld) write(t *testing.T, secrets string) {
	t.Helper()
	tmp := filepath.Join(w.dir, ".tmp")
	require.NoError(t, os.WriteFile(tmp, []byte(manifests(w.backend)+secrets), 0o600))
	require.NoError(t, os.Rename(tmp, filepath.Join(w.dir, "objects.yaml")))
}

// client dials Weir's HTTPS listener whatever the URL's host, with SNI set
// to that host, trusting pool; h2 selects HTTP/2.
func (w *tlsWorld) client(pool *x509.CertPool, h2 bool) *http.Client {
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, w.https)
		},
		ForceAttemptHTTP2: h2,
	}
	if !h2 {
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func TestHTTPSWithSNIForTwoHosts(t *testing.T) {
	certA, keyA, leafA := testCert(t, "a", "a.example.com")
	certB, keyB, leafB := testCert(t, "b", "b.example.com")
	w := startTLSWorld(t, secretYAML("cert-a", certA, keyA)+secretYAML("cert-b", certB, keyB))
	pool := x509.NewCertPool()
	pool.AddCert(leafA)
	pool.AddCert(leafB)
	for _, h2 := range []bool{false, true} {
		c := w.client(pool, h2)
		for _, host := range []string{"a.example.com", "b.example.com"} {
			resp, err := c.Get("https://" + host + "/")
			require.NoError(t, err, "host %s h2=%v", host, h2)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, 200, resp.StatusCode)
			assert.Equal(t, host, resp.TLS.PeerCertificates[0].DNSNames[0], "the certificate of the requested host")
			assert.Contains(t, string(body), "xfp=https")
			if h2 {
				assert.Equal(t, "HTTP/2.0", resp.Proto)
			} else {
				assert.Equal(t, "HTTP/1.1", resp.Proto)
			}
			assert.Equal(t, "max-age=31536000; includeSubDomains", resp.Header.Get("Strict-Transport-Security"))
		}
	}
	// An unknown name gets the self-signed default certificate.
	conn, err := tls.Dial("tcp", w.https, &tls.Config{ServerName: "unknown.example.com", InsecureSkipVerify: true})
	require.NoError(t, err)
	assert.Equal(t, "Weir Default Certificate", conn.ConnectionState().PeerCertificates[0].Subject.CommonName)
	conn.Close()
}

func TestPlainHTTPIsRedirectedOnTLSHostsOnly(t *testing.T) {
	certA, keyA, _ := testCert(t, "a", "a.example.com")
	w := startTLSWorld(t, secretYAML("cert-a", certA, keyA))
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodGet, "http://"+w.plain+"/path?q=1", nil)
	req.Host = "a.example.com"
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusPermanentRedirect, resp.StatusCode)
	assert.Equal(t, "https://a.example.com/path?q=1", resp.Header.Get("Location"))
	assert.Empty(t, resp.Header.Get("Strict-Transport-Security"), "no HSTS over plain HTTP")

	req.Host = "plain.example.com"
	resp, err = c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode, "a host without TLS is served in clear")

	// ACME HTTP-01 challenges are never redirected.
	req, _ = http.NewRequest(http.MethodGet, "http://"+w.plain+"/.well-known/acme-challenge/token", nil)
	req.Host = "a.example.com"
	resp, err = c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
}

func TestCertificateRotationUnderLoadLosesNoRequest(t *testing.T) {
	cert1, key1, leaf1 := testCert(t, "first", "a.example.com")
	cert2, key2, leaf2 := testCert(t, "second", "a.example.com")
	w := startTLSWorld(t, secretYAML("cert-a", cert1, key1))
	pool := x509.NewCertPool()
	pool.AddCert(leaf1)
	pool.AddCert(leaf2)

	var failures, total atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(h2 bool) {
			defer wg.Done()
			c := w.client(pool, h2)
			for n := 0; n < 2000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get("https://a.example.com/")
				total.Add(1)
				if err != nil || resp.StatusCode != 200 {
					failures.Add(1)
				}
				if resp != nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				c.Transport.(*http.Transport).CloseIdleConnections() // new handshakes
			}
		}(i%2 == 0)
	}
	time.Sleep(200 * time.Millisecond)
	w.write(t, secretYAML("cert-a", cert2, key2))
	require.Eventually(t, func() bool {
		conn, err := tls.Dial("tcp", w.https, &tls.Config{ServerName: "a.example.com", RootCAs: pool})
		if err != nil {
			return false
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Subject.CommonName == "second"
	}, 15*time.Second, 50*time.Millisecond, "the rotated certificate is served without a restart")
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	assert.Zero(t, failures.Load(), "of %d requests", total.Load())
	assert.Greater(t, total.Load(), int64(10))
}

func TestBadSecretFallsBackToTheDefaultCertificate(t *testing.T) {
	certA, _, _ := testCert(t, "a", "a.example.com")
	_, otherKey, _ := testCert(t, "other", "other")
	w := startTLSWorld(t, secretYAML("cert-a", certA, otherKey)) // key does not match
	conn, err := tls.Dial("tcp", w.https, &tls.Config{ServerName: "a.example.com", InsecureSkipVerify: true})
	require.NoError(t, err)
	assert.Equal(t, "Weir Default Certificate", conn.ConnectionState().PeerCertificates[0].Subject.CommonName)
	conn.Close()
}
