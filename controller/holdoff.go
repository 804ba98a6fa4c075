package controller

import (
	"time"

	"go.uber.org/zap"
)

// Rebuild pacing. A change is built at once unless a rebuild began less
// than the spacing ago; then it waits for the rest of the spacing, and
// every event until then shares that one rebuild (a burst, such as an
// apply of many objects, gives few rebuilds). The spacing is HoldOff, or
// twice the cost of the last rebuild when that is more, capped at
// MaxHoldOff: constant churn keeps rebuilds to about half of a core, and a
// lone change, even amid unrelated churn, waits at most the spacing. (A
// fixed quiet time after the last event, the earlier rule, held a lone
// change 100 ms whenever unrelated events had just caused a rebuild.)

// defaultHoldOff is Options.HoldOff's default.
const defaultHoldOff = 20 * time.Millisecond

// enqueue notes an event that needs a full translation and schedules a
// rebuild. Every event kind uses the one key, so the queue holds at most
// one pending rebuild.
func (c *Controller) enqueue() {
	c.burstMu.Lock()
	c.full = true
	c.burstMu.Unlock()
	c.schedule()
}

// enqueueIngress notes a changed Ingress ("namespace/name"), which the
// Ingress fast path can apply alone (translate.RefreshIngresses).
func (c *Controller) enqueueIngress(key string) {
	c.burstMu.Lock()
	c.ingDirty[key] = true
	c.burstMu.Unlock()
	c.schedule()
}

func (c *Controller) schedule() {
	now := time.Now()
	wait := c.noteEvent(now)
	if ce := c.log.Check(zap.DebugLevel, "change noted"); ce != nil {
		ce.Write(zap.Duration("hold", wait), zap.Time("at", now))
	}
	if wait <= 0 {
		c.queue.Add(tableKey)
		return
	}
	c.queue.AddAfter(tableKey, wait)
}

// noteEvent records an event at now and returns how long its rebuild
// waits (zero: at once).
func (c *Controller) noteEvent(now time.Time) time.Duration {
	c.burstMu.Lock()
	defer c.burstMu.Unlock()
	if c.firstEvent.IsZero() {
		c.firstEvent = now
	}
	return c.waitLocked(now)
}

// holdRemaining is how much longer the pending rebuild should wait; zero
// means build now, and records now as the start of a rebuild when one is
// pending.
func (c *Controller) holdRemaining(now time.Time) time.Duration {
	c.burstMu.Lock()
	defer c.burstMu.Unlock()
	if !c.full && len(c.dirty) == 0 && len(c.ingDirty) == 0 {
		return 0 // nothing pending: the rebuild returns at once
	}
	if wait := c.waitLocked(now); wait > 0 {
		return wait
	}
	c.lastBuild = now
	return 0
}

// waitLocked is the rest of the spacing after the last rebuild's start.
func (c *Controller) waitLocked(now time.Time) time.Duration {
	if c.lastBuild.IsZero() {
		return 0
	}
	return max(0, c.lastBuild.Add(c.spacingLocked()).Sub(now))
}

func (c *Controller) spacingLocked() time.Duration {
	return min(max(c.opts.HoldOff, 2*c.lastCost), c.opts.MaxHoldOff)
}

// noteCost records how long the last rebuild took.
func (c *Controller) noteCost(d time.Duration) {
	c.burstMu.Lock()
	c.lastCost = d
	c.burstMu.Unlock()
}
