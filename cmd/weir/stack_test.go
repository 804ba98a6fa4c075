package main

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// serveManifests runs Weir (the wiring of run, offline mode) on the YAML in
// dir, serving plain HTTP and HTTPS on loopback listeners, and waits until
// it is ready. It returns the two addresses.
func serveManifests(t *testing.T, dir string, flags ...string) (plainAddr, httpsAddr string) {
	t.Helper()
	return serveManifestsWith(t, dir, prometheus.NewRegistry(), flags...)
}

// serveManifestsWith is serveManifests with more flags, registering the
// metrics with reg.
func serveManifestsWith(t *testing.T, dir string, reg *prometheus.Registry, flags ...string) (plainAddr, httpsAddr string) {
	t.Helper()
	_, plainAddr, httpsAddr = serveStack(t, dir, reg, flags...)
	return plainAddr, httpsAddr
}

// serveStack is serveManifestsWith that also returns the publisher (the
// data plane).
func serveStack(t *testing.T, dir string, reg *prometheus.Registry, flags ...string) (pub *publisher, plainAddr, httpsAddr string) {
	t.Helper()
	cfg, err := parseFlags(append([]string{"--manifests", dir, "--access-log=false"}, flags...))
	require.NoError(t, err)
	log := zap.NewNop()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// The order is run's: the stack, then the servers, then the
	// controller, whose first table also puts the global ConfigMap in
	// force on the servers (publisher.PublishGlobal reads what
	// startServers wrote).
	pub, ctl, ready, err := newStack(cfg, nil, reg, log)
	require.NoError(t, err)
	t.Cleanup(pub.close)
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	secure, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	servers, err := startServers(ctx, &pub.flags, cfg, pub, log, plain, secure)
	require.NoError(t, err)
	t.Cleanup(func() {
		for _, s := range servers {
			s.Close()
		}
	})
	go ctl.Run(ctx)
	require.Eventually(t, ready, 10*time.Second, 10*time.Millisecond)
	return pub, plain.Addr().String(), secure.Addr().String()
}
