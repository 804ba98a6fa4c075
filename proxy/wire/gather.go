package wire

import (
	"runtime"
	"sync/atomic"
)

// Gathering the writes that wake a peer (docs/performance.md, "Writes
// gathered behind the batch's reads").
//
// When the receiver of a write runs on the same machine (loopback, a pod's
// virtual link), the kernel runs the receiver's side of TCP in the writer's
// system call and wakes the receiving process there; when that process
// sleeps on another, idle core, the wake-up is an interrupt to that core,
// paid by the writer. Go's poller hands a processor the connections that
// became ready together, and on one processor their goroutines run one
// after another, each reading its request or answer, working on it and
// writing it on: with the work between two writes longer than the
// receiver's own, the receiver has gone back to sleep before each write
// and every write wakes it again. If each goroutine first lets the others
// of the batch run (runtime.Gosched puts it behind them), the batch's reads
// and work come first and its writes follow back to back: the receiver
// woken by the first is still awake for the next.
//
// Only worth it on one processor: there the run queue Gosched uses is
// touched by nobody else. With several, the yielded goroutine goes to the
// run queue all processors share (a lock they contend for) and may wake an
// idle processor to take it, which costs more than the wake-ups it saves.
var gather atomic.Bool

// SetGatherWrites turns the gathering on or off for the whole process.
func SetGatherWrites(on bool) { gather.Store(on) }

// BeforeWake is called right before the first write of an exchange that
// may wake its receiver (an answer to a client, a request to an endpoint;
// not the later writes of a streamed body, which would each wait for the
// run queue again): while the gathering is on, the goroutine lets every
// other runnable one run first.
func BeforeWake() {
	if gather.Load() {
		runtime.Gosched()
	}
}
