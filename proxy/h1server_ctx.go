package proxy

import (
	"context"
	"sync"
)

// connCtx is the context of every request on one connection of Weir's
// HTTP/1.x server. Besides ending when the client leaves, it runs one hook
// when it ends (upstream.Hook): the upstream client's way to unblock an
// exchange, without the two allocations per request of context.AfterFunc.
// HTTP/1.x serves one request at a time, so one slot is enough; a second
// user (none today) is refused and falls back to context.AfterFunc.
type connCtx struct {
	context.Context // a cancelCtx: contexts derived from this one follow it
	stop            context.CancelFunc
	mu              sync.Mutex
	hook            func()
	done            bool
}

func newConnCtx(parent context.Context) *connCtx {
	x := &connCtx{}
	x.Context, x.stop = context.WithCancel(parent)
	return x
}

// cancel ends the context, then runs the hook if one is set.
func (x *connCtx) cancel() {
	x.mu.Lock()
	x.done = true
	f := x.hook
	x.hook = nil
	x.mu.Unlock()
	x.stop()
	if f != nil {
		f()
	}
}

// SetHook implements upstream.Hook.
func (x *connCtx) SetHook(f func()) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done || x.hook != nil {
		return false
	}
	x.hook = f
	return true
}

// ClearHook implements upstream.Hook.
func (x *connCtx) ClearHook() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	had := x.hook != nil
	x.hook = nil
	return had
}
