package main

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// newTestStack wires the data plane and the controller exactly as run does
// and runs the controller until ctx ends.
func newTestStack(t *testing.T, ctx context.Context, cfg *config, log *zap.Logger) (*publisher, func() bool) {
	t.Helper()
	reg := prometheus.NewRegistry()
	pub, err := newDataPlane(cfg, nil, reg, log)
	require.NoError(t, err)
	t.Cleanup(pub.close)
	ctl, ready, err := newController(cfg, pub, log, reg)
	require.NoError(t, err)
	go ctl.Run(ctx)
	return pub, ready
}
