package main

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"weir.dev/weir/controller/globalconfig"
)

// The global ConfigMap's listener keys change what new connections get
// while Weir runs: a smaller header limit and a TLS 1.3 minimum apply
// without a restart.
func TestListenerKeysApplyWithoutRestart(t *testing.T) {
	edit, plain, secure := serveWithConfigMap(t, func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") },
		`ssl-redirect: "false", large-client-header-buffers: "4 8k"`)

	pad := "X-Pad: " + strings.Repeat("p", 2000) + "\r\n"
	status := func() int {
		resp, _, err := send(plain, "", pad, false)
		if err != nil {
			return 0
		}
		return resp.StatusCode
	}
	tls12 := func() error {
		c, err := tls.Dial("tcp", secure, &tls.Config{ServerName: "a.test", InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12}) //nolint:gosec // Weir's self-signed default certificate
		if err == nil {
			c.Close()
		}
		return err
	}
	require.Eventually(t, func() bool { return status() == http.StatusOK }, 20*time.Second, 20*time.Millisecond)
	require.NoError(t, tls12())

	edit(`ssl-redirect: "false", large-client-header-buffers: "1 1k", ssl-protocols: "TLSv1.3"`)
	require.Eventually(t, func() bool { return status() == http.StatusRequestHeaderFieldsTooLarge }, 20*time.Second, 20*time.Millisecond,
		"new connections get the new header limit")
	require.Error(t, tls12(), "and the new TLS versions")
}

// The ConfigMap's upstream keys reach the proxy's options, over the flags.
func TestUpstreamKeysFromTheConfigMap(t *testing.T) {
	cfg, err := parseFlags(nil)
	require.NoError(t, err)
	var tr globalconfig.Tracker
	g, ps := tr.Apply(map[string]string{"upstream-keepalive-connections": "64", "upstream-keepalive-timeout": "15",
		"upstream-keepalive-requests": "500"})
	require.Empty(t, ps)
	require.NoError(t, cfg.applyStart(g))
	require.Equal(t, 64, cfg.upstreamIdle)
	require.Equal(t, 15*time.Second, cfg.upstreamIdleTimeout)
	require.Equal(t, 500, cfg.upstreamRequests)
}
