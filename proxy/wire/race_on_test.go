//go:build race

package wire

// raceEnabled: the race detector shuffles which runnable goroutine runs
// next, so a test of the run order has nothing to assert under it.
const raceEnabled = true
