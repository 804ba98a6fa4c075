package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// policies returns each thread's scheduling policy (field 41 of its stat).
func policies(t *testing.T) map[int]int {
	tids, err := procTIDs()
	require.NoError(t, err)
	out := map[int]int{}
	for _, tid := range tids {
		b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/stat")
		if err != nil {
			continue
		}
		// The command name (field 2) may hold spaces: count from its ")".
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		p, err := strconv.Atoi(f[41-3])
		require.NoError(t, err)
		out[tid] = p
	}
	return out
}

func TestBatchMonitorMovesOneThreadNotTheMain(t *testing.T) {
	var tid int
	require.Eventually(t, func() bool { // a thread of the test runner may nap in nanosleep once
		var err error
		tid, err = batchMonitor()
		return err == nil
	}, 20*time.Second, 10*time.Millisecond)
	batch := 0
	for id, p := range policies(t) {
		if p == schedBatch {
			batch++
			assert.Equal(t, tid, id, "only the monitor thread is moved")
		}
	}
	assert.Equal(t, 1, batch)
	assert.NotEqual(t, os.Getpid(), tid, "the main thread serves requests")
}
