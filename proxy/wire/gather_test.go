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
func order(t *testing.T, on bool, n int) string {
	t.Helper()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	defer SetGatherWrites(gather.Load())
	SetGatherWrites(on)
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
	// Off: each writes right after its own read, every time.
	for range 10 {
		require.Equal(t, strings.Repeat("rw", 8), order(t, false, 8))
	}
	// On: every goroutine of the batch reads before any writes. Go's
	// scheduler takes from the queue a yield goes to on every 61st turn
	// as well, so a yield now and then comes straight back (about one
	// trial in eight here); ten trials that all miss would mean the
	// yield is not made.
	gathered := 0
	for range 10 {
		if order(t, true, 8) == strings.Repeat("r", 8)+strings.Repeat("w", 8) {
			gathered++
		}
	}
	require.Positive(t, gathered, "no trial had the batch's reads before its writes")
}
