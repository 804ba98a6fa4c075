package wire

import (
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// order runs n goroutines released together on one processor; each notes
// "r" (its read and work), calls BeforeWake, then notes "w" (its write).
func order(t *testing.T, gather bool, n int) string {
	t.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	defer SetGatherWrites(GatherWrites())
	SetGatherWrites(gather)
	var (
		mu   sync.Mutex
		seen strings.Builder
		wg   sync.WaitGroup
	)
	note := func(s string) { mu.Lock(); seen.WriteString(s); mu.Unlock() }
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			note("r")
			BeforeWake()
			note("w")
		})
	}
	runtime.Gosched() // let them all reach <-start
	close(start)
	wg.Wait()
	return seen.String()
}

func TestGatheredWritesFollowTheBatchsReads(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector shuffles the run order")
	}
	// On: every goroutine of the batch reads before any writes.
	require.Equal(t, strings.Repeat("r", 8)+strings.Repeat("w", 8), order(t, true, 8))
	// Off: each writes right after its own read.
	require.Equal(t, strings.Repeat("rw", 8), order(t, false, 8))
}
