package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIngressNginxFlags(t *testing.T) {
	cfg, err := parseFlags([]string{"--enable-metrics", "--v=2", "--election-ttl", "30s", "--update-status-on-shutdown=false",
		"--watch-ingress-without-class", "--annotations-prefix=example.com"})
	require.NoError(t, err)
	assert.Len(t, cfg.notes, 4, "one note per ignored flag")
	assert.Contains(t, cfg.notes[0], "--enable-metrics=true is an ingress-nginx flag with no meaning for Weir")
	assert.True(t, cfg.watchWithoutClass)

	for _, args := range [][]string{
		{"--no-such-flag"},
		{"--tcp-services-configmap=tcp"},
		{"--udp-services-configmap=udp"},
		{"--configmap=just-a-name"},
		{"--watch-namespace-selector=team in (a"},
	} {
		_, err := parseFlags(args)
		assert.Error(t, err, "%v", args)
	}
}

// configMapSite is Service web on the backend at 127.0.0.1:port and an
// Ingress routing a.test (with TLS) to it.
func configMapSite(port string) string {
	return loopbackService("web", "http", 80, port) + configMapIngress
}

const configMapIngress = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: default}
spec:
  ingressClassName: weir
  tls: [{hosts: [a.test]}]
  rules:
  - host: a.test
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
`

// serveWithConfigMap runs Weir offline on configMapSite, its Service's
// backend answering with h, and the global ConfigMap default/weir holding
// data (flow-style YAML entries). It returns a function that rewrites that
// data, and the HTTP and HTTPS addresses.
func serveWithConfigMap(t *testing.T, h http.HandlerFunc, data string) (edit func(data string), plain, secure string) {
	t.Helper()
	backend := httptest.NewServer(h)
	t.Cleanup(backend.Close)
	_, port, _ := net.SplitHostPort(backend.Listener.Addr().String())
	dir := t.TempDir()
	write := func(name, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	write("site.yaml", configMapSite(port))
	edit = func(data string) {
		write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: weir, namespace: default}\ndata: {"+data+"}\n")
	}
	edit(data)
	plain, secure = serveManifests(t, dir, "--configmap=default/weir")
	return edit, plain, secure
}

// send writes header (a PROXY protocol line, or nothing), then a GET on
// conn (plain, or TLS when secure) with extra header lines, and reads the
// answer.
func send(addr, header, extra string, secure bool) (*http.Response, string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return nil, "", err
	}
	if _, err := io.WriteString(c, header); err != nil {
		return nil, "", err
	}
	var conn net.Conn = c
	if secure {
		conn = tls.Client(c, &tls.Config{ServerName: "a.test", InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	}
	if _, err := fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: a.test\r\n%sConnection: close\r\n\r\n", extra); err != nil {
		return nil, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, "", err
	}
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b), nil
}

// The global ConfigMap through the whole of Weir (offline mode): PROXY
// protocol on both listeners, a route default (ssl-redirect), HSTS and a
// block list, then a live edit.
func TestConfigMapThroughWeir(t *testing.T) {
	edit, plain, secure := serveWithConfigMap(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "xff=%s", r.Header.Get("X-Forwarded-For"))
	}, `use-proxy-protocol: "true", ssl-redirect: "false", hsts-max-age: "600", block-user-agents: "~*bot"`)

	const proxyLine = "PROXY TCP4 198.51.100.7 10.0.0.1 5000 80\r\n"
	var resp *http.Response
	var body string
	require.Eventually(t, func() bool {
		r, b, err := send(plain, proxyLine, "", false)
		resp, body = r, b
		return err == nil && r.StatusCode == 200
	}, 20*time.Second, 50*time.Millisecond, "ssl-redirect: false is the routes' default")
	assert.Equal(t, "xff=198.51.100.7", body, "the PROXY protocol header names the client")

	_, _, err := send(plain, "", "", false)
	assert.Error(t, err, "without the header the connection is closed")

	resp, _, err = send(plain, proxyLine, "User-Agent: Googlebot/2.1\r\n", false)
	require.NoError(t, err)
	assert.Equal(t, 403, resp.StatusCode, "block-user-agents")

	resp, body, err = send(secure, proxyLine, "", true)
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "xff=198.51.100.7", body, "PROXY protocol on the HTTPS port too, before the handshake")
	assert.Equal(t, "max-age=600; includeSubDomains", resp.Header.Get("Strict-Transport-Security"))

	edit(`ssl-redirect: "false", use-gzip: "true", gzip-min-length: "1"`)
	require.Eventually(t, func() bool {
		r, _, err := send(plain, "", "User-Agent: Googlebot/2.1\r\nAccept-Encoding: gzip\r\n", false)
		return err == nil && r.StatusCode == 200 && r.Header.Get("Content-Encoding") == "gzip"
	}, 20*time.Second, 50*time.Millisecond, "the edit turns PROXY protocol and the block list off and gzip on, without a restart")
}
