package e2e

import (
	"context"
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
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestIngressTLS: an Ingress with spec.tls is served over HTTPS with the
// certificate of its Secret, chosen by SNI, and its plain-HTTP requests are
// redirected. The key exists only for the test's life.
func TestIngressTLS(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ns := namespace(t, ctx)
	host := ns + ".tls.example.com"
	echoApp(t, ctx, ns, "web", 1)
	certPEM, keyPEM, leaf := selfSigned(t, host)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "web-tls", Namespace: ns}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM}}
	if _, err := env.cluster.Client.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ing := ingress(ns, "web", host, "web", nil)
	ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: "web-tls"}}
	createIngress(t, ctx, ing)

	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	addr := net.JoinHostPort(env.address, "443")
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	var last error
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := c.Get("https://" + host + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 && resp.TLS.PeerCertificates[0].Subject.CommonName == host {
				if resp.Header.Get("Strict-Transport-Security") == "" {
					t.Error("no HSTS header on the TLS host")
				}
				break
			}
			last = nil
		} else {
			last = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("HTTPS to %s never served with its certificate (last error: %v)", host, last)
		}
		time.Sleep(200 * time.Millisecond)
	}

	plain := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodGet, env.url+"/x", nil)
	req.Host = host
	resp, err := plain.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "https://"+host+"/x" {
		t.Errorf("plain HTTP got %d %q, want 308 to https://%s/x", resp.StatusCode, resp.Header.Get("Location"), host)
	}
}

func selfSigned(t *testing.T, host string) ([]byte, []byte, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), leaf
}
