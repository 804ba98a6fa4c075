package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// htpasswd lines ({SHA}, htpasswd -s) of alice:secret and alice:other.
const (
	aliceSecret = "alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n"
	aliceOther  = "alice:{SHA}0JQeaNqPOBUf+Gph/Fn3xc+fyqI=\n"
)

// TestBasicAuth: an Ingress with auth-type basic and an Opaque Secret of
// users (as ingress-nginx users create it) answers 401 with a challenge
// without credentials, 200 with them (the backend never sees them), follows
// a password change, and closes its paths (503) when the Secret goes away.
func TestBasicAuth(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ns := namespace(t, ctx)
	c := client()
	echoApp(t, ctx, ns, "web", 1)
	secrets := env.cluster.Client.CoreV1().Secrets(ns)
	users := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "users", Namespace: ns}, Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{"auth": []byte(aliceSecret)}}
	if _, err := secrets.Create(ctx, users, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	host := "basic." + ns + ".test"
	createIngress(t, ctx, ingress(ns, "web", host, "web", map[string]string{
		canaryPrefix + "auth-type": "basic", canaryPrefix + "auth-secret": "users", canaryPrefix + "auth-realm": "Staff"}))

	waitStatus(t, c, host, http.StatusUnauthorized)
	resp := send(t, c, host, nil)
	if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="Staff"` {
		t.Errorf("WWW-Authenticate = %q, want the realm's Basic challenge", got)
	}
	waitServed(t, c, host, basic("alice", "secret"), "web")
	e, err := get(c, host, "/", basic("alice", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Headers["Authorization"]; ok {
		t.Error("the backend received the Authorization header")
	}
	if e, err := get(c, host, "/", basic("alice", "wrong")); err != nil || e.Status != http.StatusUnauthorized {
		t.Errorf("a wrong password: status %d (%v), want 401", e.Status, err)
	}

	// A password change reaches Weir through its watch of the Secret.
	users.Data["auth"] = []byte(aliceOther)
	if _, err := secrets.Update(ctx, users, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitServed(t, c, host, basic("alice", "other"), "web")
	if e, err := get(c, host, "/", basic("alice", "secret")); err != nil || e.Status != http.StatusUnauthorized {
		t.Errorf("the old password after the change: status %d (%v), want 401", e.Status, err)
	}

	// Without its Secret the Ingress fails closed.
	if err := secrets.Delete(ctx, "users", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, host, http.StatusServiceUnavailable)
	waitEvent(t, ns, "web", "AuthSecretNotFound")
}

// basic is an Authorization header with user:password.
func basic(user, password string) http.Header {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(user, password)
	return http.Header{"Authorization": req.Header["Authorization"]}
}

// send is one GET of host/ through Weir's Service, its body discarded.
func send(t *testing.T, c *http.Client, host string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, env.url+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestClientCertificates: an Ingress with auth-tls-secret (an Opaque Secret
// holding ca.crt) answers 400 over HTTPS without a client certificate and
// passes one its CA signed, with ssl-client-verify and the URL-escaped
// certificate in ssl-client-cert.
func TestClientCertificates(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ns := namespace(t, ctx)
	host := ns + ".mtls.example.com"
	echoApp(t, ctx, ns, "web", 1)
	certPEM, keyPEM, leaf := selfSigned(t, host)
	caPEM, client := clientCA(t)
	secrets := env.cluster.Client.CoreV1().Secrets(ns)
	for _, s := range []*corev1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "web-tls", Namespace: ns}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM}},
		{ObjectMeta: metav1.ObjectMeta{Name: "client-ca", Namespace: ns}, Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{"ca.crt": caPEM}},
	} {
		if _, err := secrets.Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ing := ingress(ns, "web", host, "web", map[string]string{canaryPrefix + "auth-tls-secret": ns + "/client-ca",
		canaryPrefix + "auth-tls-pass-certificate-to-upstream": "true"})
	ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: "web-tls"}}
	createIngress(t, ctx, ing)

	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	httpsGet := func(certs ...tls.Certificate) (int, echo, error) {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: certs},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort(env.address, "443"))
			}}}
		defer c.CloseIdleConnections()
		resp, err := c.Get("https://" + host + "/")
		if err != nil {
			return 0, echo{}, err
		}
		defer resp.Body.Close()
		var e echo
		if resp.StatusCode == http.StatusOK {
			err = json.NewDecoder(resp.Body).Decode(&e)
		}
		return resp.StatusCode, e, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, _, err := httpsGet()
		if err == nil && code == http.StatusBadRequest {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("HTTPS without a client certificate: status %d (%v), want 400", code, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	code, e, err := httpsGet(client)
	if err != nil || code != http.StatusOK {
		t.Fatalf("HTTPS with the client certificate: status %d (%v), want 200", code, err)
	}
	if got := e.Headers["Ssl-Client-Verify"]; len(got) != 1 || got[0] != "SUCCESS" {
		t.Errorf("ssl-client-verify upstream = %v, want SUCCESS", got)
	}
	if got := e.Headers["Ssl-Client-Cert"]; len(got) != 1 || !strings.HasPrefix(got[0], "-----BEGIN%20CERTIFICATE-----") {
		t.Errorf("ssl-client-cert upstream = %v, want the URL-escaped PEM", got)
	}
}

// clientCA is a CA in PEM and a client certificate it signed (the CA's key
// exists only during the call).
func clientCA(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e client CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "alice"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
