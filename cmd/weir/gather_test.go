package main

import (
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGatherWritesFlag(t *testing.T) {
	for _, c := range []struct {
		mode  string
		procs int
		on    bool
	}{
		{gatherAuto, 1, true},
		{gatherAuto, 2, false},
		{gatherAuto, 64, false},
		{gatherOn, 8, true},
		{gatherOff, 1, false},
	} {
		require.Equal(t, c.on, gatherFor(c.mode, c.procs), "%s with %d processors", c.mode, c.procs)
	}
	cfg, code := commandLine([]string{"--gather-writes=off"}, io.Discard, io.Discard)
	require.Equal(t, 0, code)
	require.Equal(t, gatherOff, cfg.gatherWrites)
	cfg, _ = commandLine(nil, io.Discard, io.Discard)
	require.Equal(t, gatherAuto, cfg.gatherWrites, "default")
	_, code = commandLine([]string{"--gather-writes=yes"}, io.Discard, io.Discard)
	require.Equal(t, exitUsage, code)
}
