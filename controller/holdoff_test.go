package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// A change is built at once unless a rebuild began less than the spacing
// ago (HoldOff, or twice the last rebuild's cost, at most MaxHoldOff); the
// events within the spacing share one rebuild.
func TestFirstChangeIsBuiltAtOnceAndBurstsCoalesce(t *testing.T) {
	c := &Controller{opts: Options{HoldOff: 20 * time.Millisecond, MaxHoldOff: 300 * time.Millisecond}, dirty: map[string]bool{}, ingDirty: map[string]bool{}}
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	change := func(ms int) time.Duration {
		c.ingDirty["default/web"] = true
		return c.noteEvent(at(ms))
	}
	build := func(ms int, cost time.Duration) time.Duration {
		wait := c.holdRemaining(at(ms))
		if wait == 0 {
			c.takeChanges()
			c.noteCost(cost)
		}
		return wait
	}

	assert.Zero(t, change(0), "the first change is not held")
	assert.Zero(t, build(0, time.Millisecond))

	// A burst right behind that rebuild waits for the rest of HoldOff.
	assert.Equal(t, 15*time.Millisecond, change(5))
	assert.Equal(t, 8*time.Millisecond, change(12))
	assert.Equal(t, 5*time.Millisecond, build(15, 0), "still held")
	assert.Zero(t, build(20, time.Millisecond), "one rebuild for the burst")
	assert.Zero(t, build(21, 0), "nothing pending: nothing held")

	// A lone change later, even right after unrelated churn, waits at most
	// HoldOff: never a fixed quiet time.
	assert.Zero(t, change(100))
	assert.Zero(t, build(100, 60*time.Millisecond))
	assert.Equal(t, 110*time.Millisecond, change(110), "a costly rebuild spaces the next one by twice its cost")
	assert.Zero(t, build(220, 200*time.Millisecond))
	assert.Equal(t, 300*time.Millisecond, change(220), "at most MaxHoldOff")
}
