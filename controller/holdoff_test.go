package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// A lone change is built at once; only changes that follow a rebuild by
// less than HoldOff wait, until events pause or MaxHoldOff runs out.
func TestFirstChangeIsBuiltAtOnceAndBurstsCoalesce(t *testing.T) {
	c := &Controller{opts: Options{HoldOff: 100 * time.Millisecond, MaxHoldOff: 300 * time.Millisecond}}
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

	assert.True(t, c.noteEvent(at(0)), "the first change after a quiet period is not held")
	assert.Zero(t, c.holdRemaining(at(1)))

	// A burst right behind that rebuild waits for a pause of HoldOff.
	assert.False(t, c.noteEvent(at(10)))
	assert.Equal(t, 90*time.Millisecond, c.holdRemaining(at(20)))
	assert.False(t, c.noteEvent(at(50)))
	assert.Equal(t, 90*time.Millisecond, c.holdRemaining(at(60)))
	assert.Zero(t, c.holdRemaining(at(150)), "built once the burst paused")
	assert.Zero(t, c.holdRemaining(at(151)), "nothing pending")

	// Quiet for HoldOff since that rebuild: immediate again.
	assert.True(t, c.noteEvent(at(260)))
	assert.Zero(t, c.holdRemaining(at(261)))

	// Constant churn right after it is capped at MaxHoldOff from its first event.
	for ms := 270; ms <= 570; ms += 50 {
		assert.False(t, c.noteEvent(at(ms)))
	}
	assert.Equal(t, 10*time.Millisecond, c.holdRemaining(at(560)), "270 ms + 300 ms cap")
	assert.Zero(t, c.holdRemaining(at(570)))
}
