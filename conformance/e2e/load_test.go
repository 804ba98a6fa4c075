package e2e

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// load is steady GET traffic to one host through Weir: a few workers, each
// sending one request after another with a short pause, bounded in count
// and time.
type load struct {
	host string
	stop chan struct{}
	wg   sync.WaitGroup

	mu     sync.Mutex
	ok     int
	failed int
	errs   []string       // the first few failures
	pods   map[string]int // answers per Pod
	last   string         // Pod of the latest answer
	slow   int            // answers that took over a second
	max    time.Duration  // the slowest answer
	client *http.Client
}

const (
	loadWorkers  = 3
	loadPause    = 5 * time.Millisecond
	loadMax      = 30000 // requests, all workers together
	loadMaxSpan  = 3 * time.Minute
	keptFailures = 5
)

// startLoad starts the workers; the test's cleanup stops them if the test
// did not.
func startLoad(t *testing.T, host string) *load {
	return startLoadWith(t, host, client())
}

// startLoadWith is startLoad with the given client (and its timeout).
func startLoadWith(t *testing.T, host string, c *http.Client) *load {
	l := &load{host: host, stop: make(chan struct{}), pods: map[string]int{}, client: c}
	deadline := time.Now().Add(loadMaxSpan)
	for i := 0; i < loadWorkers; i++ {
		l.wg.Add(1)
		go l.work(deadline)
	}
	t.Cleanup(l.finish)
	return l
}

func (l *load) work(deadline time.Time) {
	defer l.wg.Done()
	for time.Now().Before(deadline) {
		select {
		case <-l.stop:
			return
		case <-time.After(loadPause):
		}
		t0 := time.Now()
		e, err := get(l.client, l.host, "/", nil)
		if !l.record(e, err, time.Since(t0)) {
			return
		}
	}
}

// record counts one answer and says whether to go on.
func (l *load) record(e echo, err error, took time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if took > time.Second {
		l.slow++
	}
	l.max = max(l.max, took)
	switch {
	case err != nil || e.Status != 200:
		l.failed++
		if len(l.errs) < keptFailures {
			l.errs = append(l.errs, fmt.Sprintf("%s status %d err %v", time.Now().Format("15:04:05.000"), e.Status, err))
		}
	default:
		l.ok++
		l.pods[e.Pod]++
		l.last = e.Pod
	}
	return l.ok+l.failed < loadMax
}

// finish stops the workers and waits for them (idempotent).
func (l *load) finish() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// snapshot returns the answers per Pod so far.
func (l *load) snapshot() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.pods))
	for k, v := range l.pods {
		out[k] = v
	}
	return out
}

// waitFor waits until cond holds for the answers so far, or fails.
func (l *load) waitFor(t *testing.T, what string, cond func(pods map[string]int) bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond(l.snapshot()) {
		if time.Now().After(deadline) {
			t.Fatalf("under load: %s did not happen within 60 s; answers per Pod: %v", what, l.snapshot())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// settlesOn waits until a window of 100 consecutive answers comes only from
// Pods that allowed accepts (Weir applies a change within a fraction of a
// second; a request sent just before may still land on the old side), or
// fails after 60 s with the last window.
func (l *load) settlesOn(t *testing.T, what string, allowed func(pod string) bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		l.reset()
		l.waitFor(t, "100 answers", func(p map[string]int) bool { return total(p) >= 100 })
		window := l.snapshot()
		ok := true
		for p := range window {
			ok = ok && allowed(p)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("under load: %s: answers still from %v after 60 s", what, window)
		}
	}
}

// reset forgets the answers so far (counts of failures stay).
func (l *load) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pods = map[string]int{}
}

// requireNoFailures stops the load and fails the test if any request failed.
func (l *load) requireNoFailures(t *testing.T) {
	t.Helper()
	l.finish()
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Logf("load on %s: %d requests answered, %d failed; %d took over 1 s, the slowest %v",
		l.host, l.ok, l.failed, l.slow, l.max.Round(time.Millisecond))
	if l.ok == 0 {
		t.Errorf("load on %s: no request answered", l.host)
	}
	if l.failed > 0 {
		t.Errorf("load on %s: %d of %d requests failed; first: %v", l.host, l.failed, l.ok+l.failed, l.errs)
	}
}
