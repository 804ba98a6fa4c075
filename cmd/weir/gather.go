package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"weir.dev/weir/proxy/wire"
)

// --gather-writes: whether a goroutine about to make the first write of an
// answer to a client or of a request to an endpoint first lets the other
// runnable goroutines run, so that the writes of a batch of ready
// connections follow each other and wake their receivers once
// (proxy/wire/gather.go; measured in docs/performance.md, "Writes gathered
// behind the batch's reads").
const (
	gatherAuto = "auto" // on while the Go runtime has one processor
	gatherOn   = "on"
	gatherOff  = "off"
)

func parseGather(v string) (string, error) {
	switch v {
	case gatherAuto, gatherOn, gatherOff:
		return v, nil
	}
	return "", fmt.Errorf("want %q, %q or %q", gatherAuto, gatherOn, gatherOff)
}

// gatherFor is the setting for a mode and a number of processors.
func gatherFor(mode string, procs int) bool {
	switch mode {
	case gatherOn:
		return true
	case gatherOff:
		return false
	}
	return procs == 1
}

// gatherRecheck is how often "auto" looks at GOMAXPROCS again: the runtime
// moves it when the container's CPU limit changes.
const gatherRecheck = 10 * time.Second

// applyGather sets the gathering for mode now and, for "auto", again every
// gatherRecheck until ctx ends.
func applyGather(ctx context.Context, mode string) {
	set := func() { wire.SetGatherWrites(gatherFor(mode, runtime.GOMAXPROCS(0))) }
	set()
	if mode != gatherAuto {
		return
	}
	go func() {
		t := time.NewTicker(gatherRecheck)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				set()
			}
		}
	}()
}
