// Package balance holds the runtime state of endpoints and the policies
// that choose among them. State (in-flight requests, latency EWMA, passive
// failures, active health) lives in Endpoint values that the endpoint
// registry keeps across table swaps; configuration comes from the table's
// Backend. Every policy filters with one predicate, Endpoint.Available, and
// nothing on the request path takes a lock.
package balance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"sync/atomic"
	"time"

	"weir.dev/weir/proxy/table"
)

// Endpoint is the runtime state of one endpoint (address and protocol).
type Endpoint struct {
	address  string
	id       string
	hash     uint64
	clock    func() time.Time
	inFlight atomic.Int64
	// ewmaNs is the latency EWMA in nanoseconds, stored as float64 bits.
	ewmaNs atomic.Uint64
	// failures counts consecutive passive failures.
	failures atomic.Int32
	// ejectedUntil is a UnixNano time before which the endpoint is out.
	ejectedUntil atomic.Int64
	// unhealthy is set by the active checker.
	unhealthy atomic.Bool
	// removed is set when no published table has the endpoint any more;
	// gone is cancelled then too, which aborts connection attempts to it.
	removed atomic.Bool
	gone    context.Context
	cancel  context.CancelFunc
	passive atomic.Pointer[table.PassiveHealth]
}

// NewEndpoint returns the state of a new endpoint. clock may be nil.
func NewEndpoint(address string, proto table.Protocol, clock func() time.Time) *Endpoint {
	if clock == nil {
		clock = time.Now
	}
	sum := sha256.Sum256([]byte(proto.String() + "://" + address))
	e := &Endpoint{address: address, id: hex.EncodeToString(sum[:6]), clock: clock}
	e.gone, e.cancel = context.WithCancel(context.Background())
	for i := 0; i < 8; i++ {
		e.hash = e.hash<<8 | uint64(sum[8+i])
	}
	return e
}

// Address is "ip:port" (or "name:port" for ExternalName backends).
func (e *Endpoint) Address() string { return e.address }

// ID is a short stable identifier derived from address and protocol, used
// in affinity cookies so that they do not reveal addresses.
func (e *Endpoint) ID() string { return e.id }

// Available is the one availability predicate: the endpoint is still in the
// newest table, not marked down by its active check and not ejected by
// passive health.
func (e *Endpoint) Available() bool {
	if e.unhealthy.Load() || e.removed.Load() {
		return false
	}
	until := e.ejectedUntil.Load()
	return until == 0 || e.clock().UnixNano() >= until
}

// InFlight is the number of requests the endpoint is serving through Weir.
func (e *Endpoint) InFlight() int64 { return e.inFlight.Load() }

// EWMA is the smoothed latency of the endpoint's responses.
func (e *Endpoint) EWMA() time.Duration {
	return time.Duration(math.Float64frombits(e.ewmaNs.Load()))
}

// Healthy reports the active check's verdict (true when unchecked).
func (e *Endpoint) Healthy() bool { return !e.unhealthy.Load() }

// Ejected reports whether passive health keeps the endpoint out now.
func (e *Endpoint) Ejected() bool {
	until := e.ejectedUntil.Load()
	return until != 0 && e.clock().UnixNano() < until
}

// MarkRemoved records that the endpoint left every published table; it is
// no longer available to requests that still use an older table.
func (e *Endpoint) MarkRemoved() {
	e.removed.Store(true)
	e.cancel()
}

// Gone is cancelled when the endpoint leaves every published table, so that
// a connection attempt to a Pod that went away ends at once instead of at
// the connect timeout.
func (e *Endpoint) Gone() context.Context { return e.gone }

// SetHealthy records the active check's verdict.
func (e *Endpoint) SetHealthy(ok bool) { e.unhealthy.Store(!ok) }

// SetPassive sets the passive-health policy (from the first backend that
// uses the endpoint in the newest table).
func (e *Endpoint) SetPassive(p table.PassiveHealth) { e.passive.Store(&p) }

// Begin counts a request in flight.
func (e *Endpoint) Begin() { e.inFlight.Add(1) }

// Abandon ends a request Begin counted without an outcome: in-flight goes
// down, the EWMA and the passive failures stay as they were.
func (e *Endpoint) Abandon() { e.inFlight.Add(-1) }

// Outcome is what happened to one request sent to an endpoint.
type Outcome struct {
	Latency time.Duration
	// Failed is a connect error, a reset, a timeout, or a 5xx when the
	// backend's passive health counts them.
	Failed bool
	Status int
}

// ewmaDecay weighs a new sample against the history (about the last ten
// requests dominate).
const ewmaDecay = 0.1

// failurePenalty is the least latency a failed request counts for.
const failurePenalty = 250 * time.Millisecond

// End finishes a request: in-flight goes down, the latency enters the EWMA
// and the outcome drives passive ejection.
func (e *Endpoint) End(o Outcome) {
	e.inFlight.Add(-1)
	if o.Latency > 0 {
		for {
			old := e.ewmaNs.Load()
			prev := math.Float64frombits(old)
			sample := float64(o.Latency)
			if o.Failed {
				// A refused connection is fast; it must not make a dead
				// endpoint look like the best one.
				sample = max(sample, float64(failurePenalty), 2*prev)
			}
			next := sample
			if prev != 0 {
				next = prev + ewmaDecay*(sample-prev)
			}
			if e.ewmaNs.CompareAndSwap(old, math.Float64bits(next)) {
				break
			}
		}
	}
	p := e.passive.Load()
	if p == nil || p.MaxFails <= 0 {
		return
	}
	if !o.Failed {
		if e.failures.Load() != 0 {
			e.failures.Store(0)
		}
		return
	}
	if int(e.failures.Add(1)) >= p.MaxFails {
		ej := p.Ejection
		if ej <= 0 {
			ej = 10 * time.Second
		}
		e.ejectedUntil.Store(e.clock().Add(ej).UnixNano())
		e.failures.Store(0)
	}
}
