package wire

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestNextDeadlineIsNeverEarlyAndMovesOncePerSlack(t *testing.T) {
	now := time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC)
	const timeout = 32 * time.Second // slack: 1 s

	at, set := NextDeadline(time.Time{}, now, timeout)
	assert.True(t, set, "no deadline yet")
	assert.Equal(t, now.Add(timeout+time.Second), at)

	for _, later := range []time.Duration{0, 500 * time.Millisecond, time.Second} {
		got, set := NextDeadline(at, now.Add(later), timeout)
		assert.False(t, set, "%v later the deadline is still at least the timeout away", later)
		assert.Equal(t, at, got)
	}
	got, set := NextDeadline(at, now.Add(time.Second+time.Nanosecond), timeout)
	assert.True(t, set, "once less than the timeout is left, it moves")
	assert.Equal(t, now.Add(time.Second+time.Nanosecond+timeout+time.Second), got)

	_, set = NextDeadline(at, now, timeout/2)
	assert.True(t, set, "a shorter timeout than the deadline's moves it nearer")

	assert.Equal(t, time.Second, DeadlineSlack(75*time.Second))
	assert.Equal(t, 100*time.Millisecond/16, DeadlineSlack(100*time.Millisecond))
}

// Whatever the deadline and the moment, the one NextDeadline leaves in
// place is never sooner than the timeout, nor later than the timeout plus
// the slack.
func FuzzNextDeadline(f *testing.F) {
	f.Add(int64(0), int64(1e9), int64(60e9))
	f.Add(int64(61e9), int64(0), int64(60e9))
	f.Fuzz(func(t *testing.T, atNs, nowNs, timeoutNs int64) {
		if timeoutNs <= 0 || timeoutNs > int64(24*time.Hour) || atNs < 0 || nowNs < 0 || atNs > 1<<50 || nowNs > 1<<50 {
			return
		}
		base := time.Unix(1_000_000_000, 0)
		at, now, timeout := base.Add(time.Duration(atNs)), base.Add(time.Duration(nowNs)), time.Duration(timeoutNs)
		got, _ := NextDeadline(at, now, timeout)
		if got.Before(now.Add(timeout)) || got.After(now.Add(timeout+DeadlineSlack(timeout))) {
			t.Fatalf("deadline %v for a wait of %v from %v", got.Sub(now), timeout, now)
		}
	})
}
