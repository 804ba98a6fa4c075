package main

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMemoryLimitFromTheContainerLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1)) // restore the test binary's limit
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	got, err := applyMemoryLimit(env(map[string]string{"WEIR_MEMORY_LIMIT": "1073741824"}))
	require.NoError(t, err)
	assert.Equal(t, int64(966367641), got, "90% of 1Gi")
	assert.Equal(t, int64(966367641), debug.SetMemoryLimit(-1), "the Go runtime has it")

	debug.SetMemoryLimit(math.MaxInt64)
	for _, m := range []map[string]string{
		{"WEIR_MEMORY_LIMIT": "1073741824", "GOMEMLIMIT": "512MiB"}, // set by hand: it wins
		{"WEIR_MEMORY_LIMIT": "0"},                                  // no limit known (the local cluster gives 0)
		{},
	} {
		got, err := applyMemoryLimit(env(m))
		require.NoError(t, err)
		assert.Zero(t, got, "%v", m)
		assert.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1), "%v leaves Go's limit alone", m)
	}
	for _, bad := range []string{"1Gi", "-5", "lots"} {
		_, err := applyMemoryLimit(env(map[string]string{"WEIR_MEMORY_LIMIT": bad}))
		assert.ErrorContains(t, err, "WEIR_MEMORY_LIMIT", bad)
	}
}
