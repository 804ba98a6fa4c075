package main

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sampler returns a threadSampler over a scripted process: round i of the
// sampling sees the system calls in rounds[i] (the last round repeats).
func sampler(self int, rounds []map[int]string) threadSampler {
	i := 0
	return threadSampler{
		self: self,
		tids: func() ([]int, error) {
			r := rounds[min(i, len(rounds)-1)]
			i++
			var tids []int
			for tid := range r {
				tids = append(tids, tid)
			}
			return tids, nil
		},
		syscall: func(tid int) (string, error) {
			sc, ok := rounds[min(i-1, len(rounds)-1)][tid]
			if !ok {
				return "", errors.New("gone")
			}
			return sc, nil
		},
		sleepNr:  "35",
		attempts: 5,
	}
}

func TestFindMonitorTakesTheOneSleeper(t *testing.T) {
	idle := map[int]string{100: "running", 101: "202 0x1", 102: "202 0x2", 103: "35 0xc000 0x0"}
	tid, err := sampler(100, []map[int]string{idle}).findMonitor()
	require.NoError(t, err)
	assert.Equal(t, 103, tid)
}

func TestFindMonitorRefusesDoubt(t *testing.T) {
	for name, rounds := range map[string][]map[int]string{
		"two sleepers": {{100: "running", 101: "35 0x1", 102: "35 0x2"}},
		"two sleepers in turn": {
			{100: "running", 101: "35 0x1", 102: "202 0x2"},
			{100: "running", 101: "202 0x1", 102: "35 0x2"},
		},
		"seen twice only": {
			{100: "running", 101: "35 0x1"}, {100: "running", 101: "35 0x1"},
			{100: "running", 101: "202 0x1"},
		},
		"none":                   {{100: "running", 101: "202 0x1", 102: "-1 0x0"}},
		"only the caller sleeps": {{100: "35 0x1", 101: "202 0x1"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := sampler(100, rounds).findMonitor()
			assert.ErrorIs(t, err, errNoMonitor)
		})
	}
}

func TestFindMonitorSkipsThreadsThatEnd(t *testing.T) {
	s := sampler(100, []map[int]string{{100: "running", 103: "35 0x1"}})
	tids := s.tids
	s.tids = func() ([]int, error) { ids, err := tids(); return append(ids, 999), err } // 999 has no syscall file
	tid, err := s.findMonitor()
	require.NoError(t, err)
	assert.Equal(t, 103, tid)
}

func TestFindMonitorPassesOnTaskListErrors(t *testing.T) {
	s := sampler(100, []map[int]string{{}})
	s.tids = func() ([]int, error) { return nil, errors.New("no /proc") }
	_, err := s.findMonitor()
	assert.EqualError(t, err, "no /proc")
}

func TestParseTIDs(t *testing.T) {
	assert.Equal(t, []int{1, 22}, parseTIDs([]string{"1", "self", "22", ""}))
}
