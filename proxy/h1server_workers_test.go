package proxy

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Connections that come one after another are served by the same parked
// goroutine; a burst parks at most maxIdle, and they all leave once idle.
func TestH1WorkersReuseAndExpire(t *testing.T) {
	p := &h1Workers{idleFor: 200 * time.Millisecond, maxIdle: 3}
	var served atomic.Int32
	serve := func(h1Job) {
		served.Add(1)
	}
	for range 5 {
		p.run(h1Job{}, serve)
		require.Eventually(t, func() bool { return p.parked() == 1 }, 10*time.Second, time.Millisecond)
	}
	require.EqualValues(t, 5, served.Load())
	require.Eventually(t, func() bool { return p.parked() == 0 }, 30*time.Second, 10*time.Millisecond)

	// A burst: ten at once, each held until all have started.
	release := make(chan struct{})
	var started atomic.Int32
	hold := func(h1Job) { started.Add(1); <-release }
	for range 10 {
		p.run(h1Job{}, hold)
	}
	require.Eventually(t, func() bool { return started.Load() == 10 }, 10*time.Second, time.Millisecond)
	close(release)
	require.Eventually(t, func() bool { return p.parked() == 3 }, 10*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return p.parked() == 0 }, 30*time.Second, 10*time.Millisecond)
}
