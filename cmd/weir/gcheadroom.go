package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
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
// headroom has a floor, gcMinHeadroom (96 MiB by default,
// --gc-min-headroom-mib): GOGC is raised until live times GOGC per cent is
// at least the floor, and never set below gcBasePercent. A large heap (many
// thousand routes) keeps GOGC at gcBasePercent, so the floor adds at most
// the floor itself to the memory a busy Weir holds. The soft memory limit
// (memlimit.go) still bounds it: near the limit Go collects sooner, whatever
// GOGC says.
const (
	gcBasePercent = 400
	gcMaxPercent  = 10000
	// gcRetune is how often the live heap is read again; it moves with
	// the tables, slowly.
	gcRetune = time.Second
)

// gcPercentFor is GOGC for a live heap and a floor under the headroom.
func gcPercentFor(live, floor uint64) int {
	if floor == 0 || live == 0 {
		return gcBasePercent
	}
	p := floor * 100 / live
	if floor*100%live != 0 {
		p++
	}
	return int(min(max(p, gcBasePercent), gcMaxPercent))
}

// gcTuner keeps GOGC at gcPercentFor(live heap, floor).
type gcTuner struct {
	floor   uint64
	live    func() uint64
	set     func(int) int // debug.SetGCPercent
	percent int
}

// step reads the live heap and moves GOGC when the new value is more than
// an eighth away from the one set: the live heap breathes between
// collections, and each change recomputes the collector's goal.
func (t *gcTuner) step() {
	p := gcPercentFor(t.live(), t.floor)
	if d := p - t.percent; t.percent != 0 && d*8 < t.percent && -d*8 < t.percent {
		return
	}
	t.set(p)
	t.percent = p
}

func (t *gcTuner) run(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		t.step()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// liveHeap is the heap the last collection left live ("/gc/heap/live:bytes").
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// applyGCHeadroom starts the tuner, unless GOGC is set (then Go's own rule
// applies) or floorMiB is 0 (GOGC stays at gcBasePercent, as main set it).
func applyGCHeadroom(ctx context.Context, getenv func(string) string, floorMiB int) {
	if getenv("GOGC") != "" {
		return
	}
	if floorMiB <= 0 {
		return
	}
	t := &gcTuner{floor: uint64(floorMiB) << 20, live: liveHeap, set: debug.SetGCPercent, percent: gcBasePercent}
	go t.run(ctx, gcRetune)
}
