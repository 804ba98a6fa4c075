package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const passthroughIngress = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: vault
  namespace: default
  annotations: {nginx.ingress.kubernetes.io/ssl-passthrough: "true"}
spec:
  ingressClassName: weir
  rules:
  - host: vault.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: vault, port: {number: 443}}}}]}
  - host: other.example.com
    http: {paths: [{path: /x, pathType: Prefix, backend: {service: {name: vault, port: {number: 443}}}}]}
`

// Through Weir's real wiring: with --enable-ssl-passthrough, a TLS
// connection for the passthrough host reaches the backend's own TLS (its
// certificate, its answer) on the HTTPS port, while another host on the
// same port is terminated by Weir; without the flag the host is terminated
// too.
func TestSSLPassthroughOnTheHTTPSPort(t *testing.T) {
	bport := tlsBackend(t, "vault", "vault.example.com")

	for _, enabled := range []bool{true, false} {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "site.yaml"), []byte(loopbackService("vault", "https", 443, bport)+passthroughIngress), 0o600))
		_, https := serveManifests(t, dir, fmt.Sprintf("--enable-ssl-passthrough=%t", enabled))
		cn, body := httpsGet(t, https, "vault.example.com")
		if enabled {
			assert.Equal(t, "vault-backend", cn, "the backend's own certificate")
			assert.Equal(t, "vault sni=vault.example.com", body)
		} else {
			assert.Equal(t, "Weir Default Certificate", cn, "without the flag Weir terminates")
		}
		cn, _ = httpsGet(t, https, "other.example.com")
		assert.Equal(t, "Weir Default Certificate", cn, "a host without / is terminated by Weir")
	}
}

// tlsBackend serves TLS on a loopback port with a certificate for host
// whose CN is name+"-backend", answering "name sni=<SNI>"; it returns the
// port.
func tlsBackend(t *testing.T, name, host string) string {
	t.Helper()
	cert, key, _ := testCert(t, name+"-backend", host)
	pair, err := tls.X509KeyPair(cert, key)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	be := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s sni=%s", name, r.TLS.ServerName)
	}), ReadHeaderTimeout: 10 * time.Second}
	go be.Serve(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{pair}}))
	t.Cleanup(func() { be.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// httpsGet connects to addr with SNI host (any certificate) and returns the
// certificate's CN and the body of GET /.
func httpsGet(t *testing.T, addr, host string) (string, string) {
	t.Helper()
	var cn string
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{ServerName: host, InsecureSkipVerify: true},
		DialTLS: func(network, _ string) (net.Conn, error) {
			conn, err := tls.Dial(network, addr, &tls.Config{ServerName: host, InsecureSkipVerify: true})
			if err == nil {
				cn = conn.ConnectionState().PeerCertificates[0].Subject.CommonName
			}
			return conn, err
		},
	}}
	resp, err := c.Get("https://" + host + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return cn, string(body)
}

// A tenant's ssl-passthrough Ingress for *.example.com must not take the
// TLS connections of app.example.com, an exact host another namespace's
// Ingress serves (terminated by Weir). HTTP routing gives the exact host
// precedence; passthrough must too.
func TestWildcardPassthroughDoesNotTakeAnotherNamespacesHost(t *testing.T) {
	bport := tlsBackend(t, "tenant", "*.example.com")
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "app") }))
	t.Cleanup(web.Close)
	_, wport, _ := net.SplitHostPort(strings.TrimPrefix(web.URL, "http://"))

	tenant := strings.ReplaceAll(strings.SplitN(loopbackService("vault", "https", 443, bport), "---\n", 2)[1], "namespace: default", "namespace: tenant")
	site := loopbackService("web", "http", 80, wport) + `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: app, namespace: default}
spec:
  ingressClassName: weir
  rules:
  - host: app.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
---
` + tenant + `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: wild
  namespace: tenant
  annotations: {nginx.ingress.kubernetes.io/ssl-passthrough: "true"}
spec:
  ingressClassName: weir
  rules:
  - host: "*.example.com"
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: vault, port: {number: 443}}}}]}
`
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "site.yaml"), []byte(site), 0o600))
	_, https := serveManifests(t, dir, "--enable-ssl-passthrough=true")
	cn, body := httpsGet(t, https, "other.example.com")
	assert.Equal(t, "tenant-backend", cn, "the wildcard passes other hosts through")
	assert.Equal(t, "tenant sni=other.example.com", body)
	cn, body = httpsGet(t, https, "app.example.com")
	assert.Equal(t, "Weir Default Certificate", cn, "app.example.com is the default namespace's, terminated by Weir")
	assert.Equal(t, "app", body)
}
