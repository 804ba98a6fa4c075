package balance

import (
	"math/rand/v2"
	"net/http"
	"sync/atomic"

	"weir.dev/weir/proxy/table"
)

// Pool is the set of endpoints of one backend in one published table, with
// the backend's selection policy.
type Pool struct {
	backend *table.Backend
	eps     []*Endpoint
	rr      atomic.Uint64
	rnd     func(n int) int
	onPanic func(*table.Backend)
}

// PoolOptions are the injectable parts of a Pool.
type PoolOptions struct {
	// Rand returns a uniform integer in [0, n); default math/rand/v2.IntN,
	// which needs no lock.
	Rand func(n int) int
	// OnPanic is called each time Pick falls back to every endpoint because
	// none is available (the panic threshold).
	OnPanic func(*table.Backend)
}

// NewPool returns the pool of backend b over eps.
func NewPool(b *table.Backend, eps []*Endpoint, opts PoolOptions) *Pool {
	p := &Pool{backend: b, eps: eps, rnd: opts.Rand, onPanic: opts.OnPanic}
	if p.rnd == nil {
		p.rnd = rand.IntN
	}
	return p
}

// Backend is the table backend the pool serves.
func (p *Pool) Backend() *table.Backend { return p.backend }

// Endpoints lists the pool's endpoints.
func (p *Pool) Endpoints() []*Endpoint { return p.eps }

// Available reports whether a request sent to this backend can be given to
// an endpoint: it has at least one (when none is healthy, the panic
// threshold uses them all).
func (p *Pool) Available() bool { return len(p.eps) > 0 }

// Panicking reports that no endpoint is available, so Pick uses all of them.
func (p *Pool) Panicking() bool {
	for _, e := range p.eps {
		if e.Available() {
			return false
		}
	}
	return len(p.eps) > 0
}

// Sticky returns the available endpoint with the given ID, or nil.
func (p *Pool) Sticky(id string) *Endpoint {
	for _, e := range p.eps {
		if e.id == id && e.Available() {
			return e
		}
	}
	return nil
}

// Pick chooses an endpoint for a request by the backend's policy among the
// available endpoints not in tried. When no endpoint is available at all it
// falls back to every endpoint not tried (panic threshold: failing open
// beats refusing everything when health checks are wrong). It returns nil
// when every endpoint has been tried.
func (p *Pool) Pick(r *http.Request, clientIP string, tried []*Endpoint) *Endpoint {
	f := filter{tried: tried, healthy: true}
	n := p.count(f)
	if n == 0 {
		f.healthy = false
		if n = p.count(f); n == 0 {
			return nil
		}
		if p.onPanic != nil && p.Panicking() {
			p.onPanic(p.backend)
		}
	}
	if e := p.choose(r, clientIP, f, n); e != nil {
		return e
	}
	// Availability changed between counting and choosing (a health verdict,
	// an ejection, a table swap removing the endpoint): take any endpoint not
	// tried rather than none.
	f.healthy = false
	for _, e := range p.eps {
		if f.ok(e) {
			return e
		}
	}
	return nil
}

func (p *Pool) choose(r *http.Request, clientIP string, f filter, n int) *Endpoint {
	switch p.backend.Balance.Kind {
	case table.RoundRobin:
		return p.nth(f, int(p.rr.Add(1)%uint64(n)))
	case table.EWMA:
		return p.twoChoices(f, n)
	case table.Hash:
		return p.rendezvous(f, hashKey(r, clientIP, p.backend.Balance.HashKey))
	case table.Random:
		return p.nth(f, p.rnd(n))
	case table.SED, table.NQ:
		return p.shortestDelay(f, n)
	default:
		return p.leastConn(f)
	}
}

// filter is the candidate predicate of one Pick.
type filter struct {
	tried   []*Endpoint
	healthy bool
}

func (f filter) ok(e *Endpoint) bool {
	for _, t := range f.tried {
		if t == e {
			return false
		}
	}
	return !f.healthy || e.Available()
}

func (p *Pool) count(f filter) int {
	n := 0
	for _, e := range p.eps {
		if f.ok(e) {
			n++
		}
	}
	return n
}

// nth returns the k-th candidate (0-based), or nil when availability
// changed since counting (Pick then takes any untried endpoint).
func (p *Pool) nth(f filter, k int) *Endpoint {
	for _, e := range p.eps {
		if f.ok(e) {
			if k == 0 {
				return e
			}
			k--
		}
	}
	return nil
}

// leastConn picks the candidate with the fewest in-flight requests; ties are
// broken uniformly at random with one draw.
func (p *Pool) leastConn(f filter) *Endpoint {
	var best *Endpoint
	var bestN int64
	ties := 0
	for _, e := range p.eps {
		if !f.ok(e) {
			continue
		}
		switch n := e.inFlight.Load(); {
		case best == nil || n < bestN:
			best, bestN, ties = e, n, 1
		case n == bestN:
			ties++
		}
	}
	if ties <= 1 || best == nil {
		return best
	}
	k := p.rnd(ties)
	for _, e := range p.eps {
		if f.ok(e) && e.inFlight.Load() == bestN {
			if k == 0 {
				return e
			}
			k--
		}
	}
	return best // counts moved under us; the first minimum is as good
}

// twoChoices draws two distinct candidates and keeps the one with the lower
// score: latency EWMA times (in-flight + 1). Endpoints without a latency yet
// score by in-flight alone, so they get tried.
func (p *Pool) twoChoices(f filter, n int) *Endpoint {
	if n == 1 {
		return p.nth(f, 0)
	}
	i := p.rnd(n)
	j := p.rnd(n - 1)
	if j >= i {
		j++
	}
	a, b := p.nth(f, i), p.nth(f, j)
	if a == nil || b == nil {
		// Availability changed since counting: the one left, or nil and
		// Pick takes any untried endpoint.
		if a == nil {
			return b
		}
		return a
	}
	if score(b) < score(a) {
		return b
	}
	return a
}

func score(e *Endpoint) float64 {
	lat := float64(e.EWMA())
	if lat == 0 {
		lat = 1
	}
	return lat * float64(e.inFlight.Load()+1)
}

// rendezvous is highest-random-weight hashing: each endpoint scores
// mix(key, endpoint) and the highest wins, so adding one endpoint to n moves
// only about 1/(n+1) of the keys.
func (p *Pool) rendezvous(f filter, key uint64) *Endpoint {
	var best *Endpoint
	var bestScore uint64
	for _, e := range p.eps {
		if !f.ok(e) {
			continue
		}
		if s := mix64(key ^ e.hash); best == nil || s > bestScore {
			best, bestScore = e, s
		}
	}
	return best
}

// mix64 is SplitMix64's finaliser: a bijection that spreads bits well.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
