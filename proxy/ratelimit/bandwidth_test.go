package ratelimit

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestThrottlePaces(t *testing.T) {
	assert.Nil(t, New(Config{RPS: 1}).Throttle(), "no bandwidth limit, no pacing")
	th := New(Config{RateBytes: 1000, RateAfterBytes: 500}).Throttle()
	require.NotNil(t, th)
	now := time.Unix(0, 0)
	var slept time.Duration
	th.now = func() time.Time { return now }
	th.sleep = func(_ context.Context, d time.Duration) error { slept += d; now = now.Add(d); return nil }
	assert.Equal(t, 512, th.Chunk())

	require.NoError(t, th.Wait(context.Background(), 500))
	assert.Zero(t, slept, "the first limit-rate-after bytes are free")
	for i := 0; i < 4; i++ {
		require.NoError(t, th.Wait(context.Background(), 250))
	}
	assert.Equal(t, time.Second, slept, "1000 paced bytes at 1000 B/s take a second")
}

func TestThrottleStopsWithTheClient(t *testing.T) {
	th := New(Config{RateBytes: 1}).Throttle()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, th.Wait(ctx, 100), context.Canceled)
}

func TestBandwidthOnlyCountsNothing(t *testing.T) {
	l := New(Config{RateBytes: 1000})
	for i := 0; i < 100; i++ {
		require.True(t, l.Acquire(client))
	}
	key, sh := l.shard(client)
	_, remembered := sh.m[key]
	assert.False(t, remembered, "a bandwidth limit alone keeps no per-client state")
}
