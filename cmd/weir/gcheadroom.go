package main

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Garbage collection with a floor under the heap's headroom
// (docs/performance.md, "The collector and the latency tail").
//
// Go collects when the heap has grown by GOGC per cent of what the last
// collection left live. Weir's live heap is small (the routing table, the
// connections' buffers: about 6 MiB serving one route), so at GOGC 400 the
// heap may grow by only 24 MiB between collections, and at 55,000 requests
// a second (2.25 KiB each) that is five collections a second. On one
// processor each collection takes a share of the CPU for a few
// milliseconds and the requests that arrive then wait: that, not the cost
// of a request, made Weir's p99 at a fixed rate 2.2 times nginx's. So the
// headroom has a floor (96 MiB by default, --gc-min-headroom-mib): after
// every collection GOGC is set so that the heap may grow by at least the
// floor before the next, and never below gcBasePercent. Go's goal is the
// live heap plus GOGC per cent of what a collection scans (the live heap,
// the goroutines' stacks and the globals), so that sum is what the floor is
// divided by. A large heap (many thousand routes) keeps GOGC at
// gcBasePercent, so the floor adds at most itself (and an eighth, the
// tuner's tolerance) to the memory a busy Weir holds. The soft memory limit
// (memlimit.go) still bounds it: near the limit Go collects sooner, whatever
// GOGC says.
const (
	gcBasePercent = 400
	gcMaxPercent  = 10000
)

// gcPercentFor is GOGC for the bytes a collection scans and a floor under
// the headroom.
func gcPercentFor(scanned, floor uint64) int {
	if floor == 0 || scanned == 0 {
		return gcBasePercent
	}
	if floor > 1<<50 { // no overflow below; GOGC is at its cap long before
		return gcMaxPercent
	}
	p := floor * 100 / scanned
	if floor*100%scanned != 0 {
		p++
	}
	return int(min(max(p, gcBasePercent), gcMaxPercent))
}

// gcTuner keeps GOGC at gcPercentFor(scanned bytes, floor).
type gcTuner struct {
	floor   uint64
	scanned func() uint64
	set     func(int) int // debug.SetGCPercent
	mu      sync.Mutex
	percent int
}

// step reads what the last collection scanned and sets GOGC. A rise is
// made at once (the headroom would be under the floor); a fall only when
// it is more than an eighth: the heap breathes between collections, and
// each change recomputes the collector's goal.
func (t *gcTuner) step() {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := gcPercentFor(t.scanned(), t.floor)
	if p == t.percent || p < t.percent && (t.percent-p)*8 <= t.percent {
		return
	}
	t.set(p)
	t.percent = p
}

// gcSentinel is garbage from birth: its cleanup runs after the collection
// that finds it, steps the tuner and makes the next one.
type gcSentinel [64]byte

// run steps the tuner now and after every collection until ctx ends.
func (t *gcTuner) run(ctx context.Context) {
	t.step()
	t.arm(ctx)
}

func (t *gcTuner) arm(ctx context.Context) {
	runtime.AddCleanup(new(gcSentinel), func(ctx context.Context) {
		if ctx.Err() == nil {
			t.step()
			t.arm(ctx)
		}
	}, ctx)
}

// gcScanned is what the last collection scanned: the live heap
// ("/gc/heap/live:bytes"), the stacks and the globals.
func gcScanned() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}
	metrics.Read(s)
	var n uint64
	for _, v := range s {
		if v.Value.Kind() == metrics.KindUint64 {
			n += v.Value.Uint64()
		}
	}
	return n
}

// applyGCHeadroom starts the tuner and reports whether it did: not when
// GOGC is set (Go's own rule applies) or floorMiB is 0 (GOGC stays at
// gcBasePercent, as main set it).
func applyGCHeadroom(ctx context.Context, getenv func(string) string, floorMiB int) bool {
	if getenv("GOGC") != "" || floorMiB <= 0 {
		return false
	}
	t := &gcTuner{floor: uint64(floorMiB) << 20, scanned: gcScanned, set: debug.SetGCPercent, percent: gcBasePercent}
	t.run(ctx)
	return true
}
