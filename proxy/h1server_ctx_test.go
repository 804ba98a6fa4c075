package proxy

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestConnCtxRunsItsOneHookWhenTheClientLeaves(t *testing.T) {
	x := newConnCtx(context.Background())
	runs := 0
	hook := func() { runs++ }
	assert.True(t, x.SetHook(hook))
	assert.False(t, x.SetHook(hook), "one slot: a second user falls back to context.AfterFunc")
	assert.True(t, x.ClearHook(), "detached before the end")
	assert.False(t, x.ClearHook(), "nothing left to detach")

	assert.True(t, x.SetHook(hook))
	x.cancel()
	assert.Equal(t, 1, runs, "the hook ran when the context ended")
	assert.Error(t, x.Err())
	assert.False(t, x.ClearHook(), "the hook had run")
	assert.False(t, x.SetHook(hook), "an ended context takes no hook")
	x.cancel()
	assert.Equal(t, 1, runs, "at most once")
}
