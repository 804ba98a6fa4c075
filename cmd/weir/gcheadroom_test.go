package main

import (
	"context"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestGCPercentKeepsAFloorUnderTheHeadroom(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		scanned, floor uint64
		want           int
	}{
		{6 * mib, 96 * mib, 1600},    // one route: collections 4x rarer than at 400
		{7 * mib, 96 * mib, 1372},    // rounded up: the headroom is never under the floor
		{24 * mib, 96 * mib, 400},    // the floor met by GOGC 400 itself
		{500 * mib, 96 * mib, 400},   // a large table keeps 400
		{512 << 10, 96 * mib, 10000}, // a tiny heap: at most 100x
		{6 * mib, 1 << 62, 10000},    // an absurd floor: the cap, no overflow
		{6 * mib, 0, 400},            // turned off
		{0, 96 * mib, 400},           // nothing read
	} {
		got := gcPercentFor(c.scanned, c.floor)
		require.Equal(t, c.want, got, "scanned %d, floor %d", c.scanned, c.floor)
		if c.floor > 0 && c.scanned > 0 && got < gcMaxPercent {
			require.GreaterOrEqual(t, c.scanned*uint64(got)/100, c.floor, "headroom under the floor")
		}
	}
}

func TestGCTunerMovesGOGCWithTheHeap(t *testing.T) {
	const mib = 1 << 20
	scanned := uint64(6 * mib)
	var set []int
	tu := &gcTuner{floor: 96 * mib, scanned: func() uint64 { return scanned }, set: func(p int) int { set = append(set, p); return 0 }, percent: gcBasePercent}
	tu.step()
	require.Equal(t, []int{1600}, set)
	scanned = 6*mib + 256<<10 // grew a little: GOGC may fall by under an eighth, left alone
	tu.step()
	require.Equal(t, []int{1600}, set)
	scanned = 6*mib - 256<<10 // shrank: the headroom would be under the floor, raised at once
	tu.step()
	require.Equal(t, []int{1600, 1670}, set)
	scanned = 48 * mib // the table grew
	tu.step()
	require.Equal(t, []int{1600, 1670, 400}, set)
}

func TestGCTunerStepsAfterEveryCollection(t *testing.T) {
	var steps atomic.Int32
	tu := &gcTuner{floor: 96 << 20, scanned: func() uint64 { steps.Add(1); return 6 << 20 }, set: func(int) int { return 0 }, percent: gcBasePercent}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tu.run(ctx)
	require.Equal(t, int32(1), steps.Load(), "run steps at once")
	// Each collection finds the sentinel the last step left; its cleanup
	// steps again. Bounded: a cleanup runs soon after its collection.
	for deadline := time.Now().Add(20 * time.Second); steps.Load() < 4; {
		require.True(t, time.Now().Before(deadline), "the tuner stepped %d times", steps.Load())
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	// After its context ends, it stops after at most the step under way.
	cancel()
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	n := steps.Load()
	for range 3 {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	require.LessOrEqual(t, steps.Load(), n+1)
}

func TestGCHeadroomLeavesAnExplicitGOGCAlone(t *testing.T) {
	env := func(gogc string) func(string) string {
		return func(k string) string {
			if k == "GOGC" {
				return gogc
			}
			return ""
		}
	}
	require.False(t, applyGCHeadroom(context.Background(), env("100"), 96), "GOGC set")
	require.False(t, applyGCHeadroom(context.Background(), env(""), 0), "floor 0")

	_, code := commandLine([]string{"--gc-min-headroom-mib=-1"}, io.Discard, io.Discard)
	require.Equal(t, exitUsage, code)
	cfg, code := commandLine([]string{"--gc-min-headroom-mib=0"}, io.Discard, io.Discard)
	require.Equal(t, 0, code)
	require.Equal(t, 0, cfg.gcMinHeadroomMiB)
	cfg, _ = commandLine(nil, io.Discard, io.Discard)
	require.Equal(t, 96, cfg.gcMinHeadroomMiB, "default")
}
