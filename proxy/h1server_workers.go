package proxy

import (
	"crypto/tls"
	"net"
	"slices"
	"sync"
	"time"
)

// h1Workers keeps the goroutines that served a connection for the next
// ones. A new goroutine per connection costs its creation and, for every
// connection, the growth of its stack from the runtime's starting size to
// the 8 KiB or so a proxied request needs (a copy at each doubling): with
// a new connection per request (S2 of docs/performance.md) about 5 % of
// the CPU. A worker keeps its grown stack. The most recently parked worker
// is taken first, so its stack is likely still in the CPU's cache.
//
// A worker left idle for idleFor exits, and at most maxIdle wait at once:
// after a burst of connections, the goroutines it needed go away.
type h1Workers struct {
	idleFor time.Duration
	maxIdle int

	mu   sync.Mutex
	idle []*h1Worker // parked, the most recent last
}

// h1Job is one accepted connection to serve.
type h1Job struct {
	nc  net.Conn
	tls *tls.Config
}

type h1Worker struct {
	jobs chan h1Job // capacity 1: handing over never blocks
}

const (
	workerIdleFor = 5 * time.Second
	workerMaxIdle = 1024
)

func newH1Workers() *h1Workers {
	return &h1Workers{idleFor: workerIdleFor, maxIdle: workerMaxIdle}
}

// run has serve(j) called by a parked worker, or by a new one.
func (p *h1Workers) run(j h1Job, serve func(h1Job)) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.jobs <- j
		return
	}
	p.mu.Unlock()
	go p.work(&h1Worker{jobs: make(chan h1Job, 1)}, j, serve)
}

// work serves j, then every job handed to it while parked, until it has
// waited idleFor for one or there are enough parked workers.
func (p *h1Workers) work(w *h1Worker, j h1Job, serve func(h1Job)) {
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		serve(j)
		j = h1Job{}
		if !p.park(w) {
			return
		}
		if t == nil {
			t = time.NewTimer(p.idleFor)
		} else {
			t.Reset(p.idleFor)
		}
		select {
		case j = <-w.jobs:
		case <-t.C:
			if p.unpark(w) {
				return
			}
			j = <-w.jobs // run took it meanwhile: its job is on the way
		}
	}
}

// park adds w to the idle workers, unless maxIdle already wait.
func (p *h1Workers) park(w *h1Worker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) >= p.maxIdle {
		return false
	}
	p.idle = append(p.idle, w)
	return true
}

// unpark takes w out of the idle workers; false if run already took it.
func (p *h1Workers) unpark(w *h1Worker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.idle {
		if x == w {
			p.idle = slices.Delete(p.idle, i, i+1)
			return true
		}
	}
	return false
}

// parked reports how many workers wait for a connection.
func (p *h1Workers) parked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}
