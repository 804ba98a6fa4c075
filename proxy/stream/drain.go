package stream

import (
	"context"
	"io"
	"sync"

	"go.uber.org/zap"
)

// tracker holds the connections (or UDP sessions) a listener has open, so
// that shutdown can wait for them and close those that outlast the drain.
// The zero value is ready.
type tracker struct {
	mu    sync.Mutex
	open  map[io.Closer]string // each with its listener label
	empty chan struct{}        // closed when open empties while cut waits
	done  bool                 // cut closed the rest: nothing more is added
}

// add records c; false once the drain is over (the caller closes c).
func (t *tracker) add(c io.Closer, label string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return false
	}
	if t.open == nil {
		t.open = map[io.Closer]string{}
	}
	t.open[c] = label
	return true
}

// remove forgets c, which has ended.
func (t *tracker) remove(c io.Closer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.open, c)
	if len(t.open) == 0 && t.empty != nil {
		close(t.empty)
		t.empty = nil
	}
}

// cut waits until nothing is open or ctx ends, then closes what is left,
// counting each as result "cut" and logging how many (what names the
// listeners). It returns that number; add refuses from then on.
func (t *tracker) cut(ctx context.Context, o Options, what string) int {
	for {
		t.mu.Lock()
		if len(t.open) == 0 || ctx.Err() != nil {
			break // with t.mu held
		}
		empty := make(chan struct{})
		t.empty = empty
		t.mu.Unlock()
		select {
		case <-empty:
		case <-ctx.Done():
		}
	}
	left := t.open
	t.open, t.empty, t.done = nil, nil, true
	t.mu.Unlock()
	for c, label := range left {
		o.Metrics.count(label, resultCut)
		c.Close()
	}
	if len(left) > 0 {
		o.Log.Warn("drain period over: closing the connections still open", zap.String("listeners", what), zap.Int("connections", len(left)))
	}
	return len(left)
}
