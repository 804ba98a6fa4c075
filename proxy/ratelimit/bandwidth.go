package ratelimit

import (
	"context"
	"time"
)

// Throttle paces one response to a rate in bytes per second once its first
// bytes have been sent free (nginx's limit_rate and limit_rate_after).
type Throttle struct {
	rate, after int64
	sent        int64
	start       time.Time // when the free bytes were used up
	now         func() time.Time
	sleep       func(context.Context, time.Duration) error
}

// Throttle returns a pacer for one response, or nil when the Limiter has
// no bandwidth limit.
func (l *Limiter) Throttle() *Throttle {
	if l.cfg.RateBytes <= 0 {
		return nil
	}
	return &Throttle{rate: l.cfg.RateBytes, after: l.cfg.RateAfterBytes, now: time.Now, sleep: sleepCtx}
}

// Chunk is the most a caller should write at once, so that pacing stays
// smooth: a tenth of a second's worth, at least 512 bytes.
func (t *Throttle) Chunk() int {
	return int(max(t.rate/10, 512))
}

// Wait blocks until n more bytes may be sent, or ctx ends.
func (t *Throttle) Wait(ctx context.Context, n int) error {
	t.sent += int64(n)
	paced := t.sent - t.after
	if paced <= 0 {
		return nil
	}
	if t.start.IsZero() {
		t.start = t.now()
	}
	due := t.start.Add(time.Duration(float64(paced) / float64(t.rate) * float64(time.Second)))
	if d := due.Sub(t.now()); d > 0 {
		return t.sleep(ctx, d)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
