package main

import (
	"context"
	"runtime/debug"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGCPercentKeepsAFloorUnderTheHeadroom(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live, floor uint64
		want        int
	}{
		{6 * mib, 96 * mib, 1600},    // one route: collections 4x rarer than at 400
		{7 * mib, 96 * mib, 1372},    // rounded up: the headroom is never under the floor
		{24 * mib, 96 * mib, 400},    // the floor met by GOGC 400 itself
		{500 * mib, 96 * mib, 400},   // a large table keeps 400
		{512 << 10, 96 * mib, 10000}, // a tiny heap: at most 100x
		{6 * mib, 0, 400},            // turned off
		{0, 96 * mib, 400},           // nothing read
	} {
		require.Equal(t, c.want, gcPercentFor(c.live, c.floor), "live %d, floor %d", c.live, c.floor)
		if c.floor > 0 && c.live > 0 && c.want < gcMaxPercent {
			require.GreaterOrEqual(t, c.live*uint64(c.want)/100, c.floor, "headroom under the floor")
		}
	}
}

func TestGCTunerMovesGOGCWithTheLiveHeap(t *testing.T) {
	const mib = 1 << 20
	live := uint64(6 * mib)
	var set []int
	tu := &gcTuner{floor: 96 * mib, live: func() uint64 { return live }, set: func(p int) int { set = append(set, p); return 0 }, percent: gcBasePercent}
	tu.step()
	require.Equal(t, []int{1600}, set)
	live = 6*mib + 256<<10 // breathing: under an eighth, left alone
	tu.step()
	require.Equal(t, []int{1600}, set)
	live = 48 * mib // the table grew
	tu.step()
	require.Equal(t, []int{1600, 400}, set)

	// run stops with its context.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tu.run(ctx, time.Hour); close(done) }()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the tuner did not stop with its context")
	}
}

func TestGCHeadroomLeavesAnExplicitGOGCAlone(t *testing.T) {
	before := gcPercentNow()
	applyGCHeadroom(context.Background(), func(k string) string {
		if k == "GOGC" {
			return "100"
		}
		return ""
	}, 96)
	require.Equal(t, before, gcPercentNow())
}

func gcPercentNow() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}
