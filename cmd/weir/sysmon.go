package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The Go runtime's monitor thread ("sysmon") wakes up every 20 µs to 10 ms
// while the program works: it takes a processor back from a thread stuck in
// a system call, preempts goroutines that ran too long and polls the
// network when nobody else did. After every idle moment it starts again at
// 20 µs, so a proxy that serves bursts and idles between them wakes it
// thousands of times a second. Each wake-up is a few microseconds of its
// own, but under Linux's default policy a thread that wakes up preempts
// the one running on its core, and on a core the serving thread shares
// with it (a CPU set of one, or a busy node) every wake-up is two context
// switches in the middle of a request. docs/performance.md ("The runtime's
// monitor thread") has the figures.
//
// Under SCHED_BATCH a waking thread does not preempt the running one: the
// monitor then runs at the next scheduler tick, or at once on an idle
// core. Its duties are all about stretches of milliseconds (10 ms for a
// long-running goroutine), which a tick of at most 4 ms does not change.
// Only the monitor thread is moved; the threads serving requests keep the
// default policy, so they still preempt other processes when data arrives.

// errNoMonitor says the monitor thread could not be told apart: nothing
// is changed then.
var errNoMonitor = errors.New("the Go runtime's monitor thread was not found")

// threadSampler reads what the process's threads are doing: the thread IDs,
// and the system call a thread is blocked in (the first field of
// /proc/self/task/TID/syscall: a number, "running" or "-1").
type threadSampler struct {
	self     int // the calling thread, never chosen
	tids     func() ([]int, error)
	syscall  func(tid int) (string, error)
	sleepNr  string // the number of nanosleep, which only the monitor uses
	attempts int
}

// findMonitor returns the one thread seen sleeping in nanosleep: the
// monitor sleeps there between its rounds, and the runtime uses nanosleep
// nowhere else while a program starts. A thread is taken only when it is
// the only one ever seen there and seen there at least three times; any
// doubt returns errNoMonitor.
func (s threadSampler) findMonitor() (int, error) {
	seen := map[int]int{}
	for range s.attempts {
		tids, err := s.tids()
		if err != nil {
			return 0, err
		}
		for _, tid := range tids {
			if tid == s.self {
				continue
			}
			sc, err := s.syscall(tid)
			if err != nil {
				continue // a thread that ended in between
			}
			if nr, _, _ := strings.Cut(sc, " "); nr == s.sleepNr {
				seen[tid]++
			}
		}
	}
	if len(seen) != 1 {
		return 0, fmt.Errorf("%w (%d candidates)", errNoMonitor, len(seen))
	}
	for tid, n := range seen {
		if n >= 3 {
			return tid, nil
		}
	}
	return 0, fmt.Errorf("%w (seen too seldom)", errNoMonitor)
}

// parseTIDs turns the names of /proc/self/task's entries into thread IDs.
func parseTIDs(names []string) []int {
	tids := make([]int, 0, len(names))
	for _, n := range names {
		if tid, err := strconv.Atoi(n); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids
}
