package proxy

import (
	"sync"
	"sync/atomic"
	"time"
)

// series holds the observations of one label set, split by method and
// status into cells.
type series struct {
	key     seriesKey
	owners  int       // Servers whose table in service uses this series (Metrics.mu)
	backend [2]string // the backend's namespace and Service (Metrics.mu)
	// cells maps method and status to their cell. It is copied on write (a
	// new method/status pair is rare), so the request path reads it with
	// one atomic load and no lock.
	cells   atomic.Pointer[map[uint32]*cell]
	cellsMu sync.Mutex
}

// cell holds every observation of one series, method and status. Weir's
// families and the ingress-nginx ones are both computed from cells when
// scraped; a request updates one cell only. The request count is the
// duration histogram's count.
type cell struct {
	duration histogram // arrival to end of response
	header   histogram // request sent to the endpoint's response headers
	response histogram // request sent to the end of the endpoint's response
	connect  histogram // opening a new connection for the request
	reqSize  histogram // request head and declared body, bytes
	respSize histogram // response body, bytes
}

// sample is what one finished request contributes.
type sample struct {
	total     time.Duration
	forwarded bool // an endpoint was reached: the upstream times are known
	header    time.Duration
	response  time.Duration
	connect   time.Duration // 0: no new connection was opened
	reqBytes  int64
	respBytes int64
}

var methodNames = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "OTHER"}

func methodIndex(m string) uint32 {
	for i, n := range methodNames[:len(methodNames)-1] {
		if n == m {
			return uint32(i)
		}
	}
	return uint32(len(methodNames) - 1)
}

func (s *series) observe(method string, status int, sm *sample) {
	key := methodIndex(method)<<16 | uint32(status)
	var c *cell
	if m := s.cells.Load(); m != nil {
		c = (*m)[key]
	}
	if c == nil {
		c = s.cell(key)
	}
	c.duration.observe(int64(sm.total), timeBounds[:])
	c.reqSize.observe(sm.reqBytes, sizeBounds[:])
	c.respSize.observe(sm.respBytes, sizeBounds[:])
	if sm.forwarded {
		c.header.observe(int64(sm.header), timeBounds[:])
		c.response.observe(int64(sm.response), timeBounds[:])
		if sm.connect > 0 {
			c.connect.observe(int64(sm.connect), timeBounds[:])
		}
	}
}

// cell returns (creating) the cell for key.
func (s *series) cell(key uint32) *cell {
	s.cellsMu.Lock()
	defer s.cellsMu.Unlock()
	old := s.cells.Load()
	if old != nil {
		if c := (*old)[key]; c != nil {
			return c
		}
	}
	next := make(map[uint32]*cell, 1)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	c := new(cell)
	next[key] = c
	s.cells.Store(&next)
	return c
}

// Histogram bounds. Times, in nanoseconds, are ingress-nginx's request
// duration buckets (Prometheus's defaults, 5 ms to 10 s); sizes, in bytes,
// grow by ten from 100 B to 10 MB.
var (
	timeBounds = [...]int64{5e6, 10e6, 25e6, 50e6, 100e6, 250e6, 500e6, 1e9, 2.5e9, 5e9, 10e9}
	sizeBounds = [...]int64{100, 1e3, 1e4, 1e5, 1e6, 1e7}
)

const maxBuckets = len(timeBounds) + 1

// histogram counts observations per bucket (not cumulative) and sums them,
// in the unit of its bounds.
type histogram struct {
	counts [maxBuckets]atomic.Uint64
	sum    atomic.Int64
}

func (h *histogram) observe(v int64, bounds []int64) {
	i := 0
	for i < len(bounds) && v > bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.sum.Add(v)
}

// count is the number of observations.
func (h *histogram) count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}
