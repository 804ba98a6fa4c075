// Package ratelimit limits requests per client address, as ingress-nginx's
// limit-rps, limit-rpm and limit-connections do: per Ingress, per replica,
// with a burst of rate×multiplier served at once (nginx's limit_req with
// nodelay). State is kept per client address in a sharded map whose size is
// bounded, so a flood of distinct addresses cannot exhaust memory: when a
// shard is full, clients whose allowance has fully recovered are forgotten
// first (forgetting them changes nothing), then arbitrary ones.
package ratelimit

import (
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// Config is what a Limiter enforces; zero rates and limits are off.
type Config struct {
	RPS, RPM, Connections int
	BurstMultiplier       int // burst = rate × multiplier (at least 1)
	Allowlist             []netip.Prefix
	// RateBytes paces each response to this many bytes per second after
	// its first RateAfterBytes (limit-rate, limit-rate-after); 0 is off.
	// Allowlisted clients are paced too, as in nginx.
	RateBytes, RateAfterBytes int64
	// MaxClients bounds the addresses remembered (default DefaultMaxClients).
	MaxClients int
}

// DefaultMaxClients is about what nginx's 5 MB zone of ingress-nginx holds.
const DefaultMaxClients = 1 << 16

const shards = 64

// Limiter is the state of one Ingress's limits. It is safe for concurrent
// use; its methods allocate nothing.
type Limiter struct {
	cfg      Config
	rps, rpm rate
	perShard int
	counts   bool         // some request or connection limit is set
	now      func() int64 // monotonic nanoseconds
	shards   [shards]shard
	desc     string
}

// rate is a GCRA (virtual scheduling) parameterisation: one request every
// interval, tolerance bursts ahead of schedule.
type rate struct{ interval, tolerance int64 }

type shard struct {
	mu sync.Mutex
	m  map[[16]byte]state
	_  [40]byte // keep shards on separate cache lines
}

// state is one client's theoretical arrival times and open requests.
type state struct {
	tatRPS, tatRPM int64
	conns          int32
}

var epoch = time.Now()

// New returns a Limiter for c.
func New(c Config) *Limiter {
	c = normalize(c)
	l := &Limiter{cfg: c, perShard: max(c.MaxClients/shards, 1), now: func() int64 { return int64(time.Since(epoch)) }}
	l.counts = c.RPS > 0 || c.RPM > 0 || c.Connections > 0
	l.rps = newRate(c.RPS, int64(time.Second), c.BurstMultiplier)
	l.rpm = newRate(c.RPM, int64(time.Minute), c.BurstMultiplier)
	l.desc = describe(c)
	return l
}

func normalize(c Config) Config {
	if c.BurstMultiplier < 1 {
		c.BurstMultiplier = 1
	}
	if c.MaxClients <= 0 {
		c.MaxClients = DefaultMaxClients
	}
	return c
}

func describe(c Config) string {
	d := fmt.Sprintf("rps=%d rpm=%d connections=%d burst-multiplier=%d allow=%v", c.RPS, c.RPM, c.Connections, c.BurstMultiplier, c.Allowlist)
	if c.RateBytes > 0 {
		d += fmt.Sprintf(" rate=%dB/s after=%dB", c.RateBytes, c.RateAfterBytes)
	}
	return d
}

func newRate(n int, per int64, mult int) rate {
	if n <= 0 {
		return rate{}
	}
	iv := max(per/int64(n), 1)
	return rate{interval: iv, tolerance: iv * int64(n) * int64(mult)}
}

// String describes the limits for table dumps.
func (l *Limiter) String() string { return l.desc }

// Acquire reports whether a request from addr may proceed. When it may and
// limit-connections is set, the caller must call Release(addr) when the
// request ends.
func (l *Limiter) Acquire(addr netip.Addr) bool {
	ok, _ := l.Admit(addr)
	return ok
}

// Admit is Acquire that also says, for a refused request, whether
// limit-connections refused it (conn) rather than a rate.
func (l *Limiter) Admit(addr netip.Addr) (ok, conn bool) {
	if !l.counts || l.exempt(addr) {
		return true, false
	}
	key, sh := l.shard(addr)
	now := l.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	st, known := sh.m[key]
	if l.cfg.Connections > 0 && int(st.conns) >= l.cfg.Connections {
		return false, true
	}
	var okRPM, okRPS bool
	if st.tatRPM, okRPM = l.rpm.take(st.tatRPM, now); !okRPM {
		return false, false
	}
	if st.tatRPS, okRPS = l.rps.take(st.tatRPS, now); !okRPS {
		return false, false
	}
	if l.cfg.Connections > 0 {
		st.conns++
	}
	if !known && len(sh.m) >= l.perShard {
		sh.evict(now)
	}
	if sh.m == nil {
		sh.m = make(map[[16]byte]state) // made on first use: most shards of most Ingresses stay empty
	}
	sh.m[key] = st
	return true, false
}

// Release ends a request admitted by Acquire (only needed with
// limit-connections).
func (l *Limiter) Release(addr netip.Addr) {
	if l.cfg.Connections == 0 || l.exempt(addr) {
		return
	}
	key, sh := l.shard(addr)
	sh.mu.Lock()
	if st, ok := sh.m[key]; ok && st.conns > 0 {
		st.conns--
		sh.m[key] = st
	}
	sh.mu.Unlock()
}

// take admits one request at now against the theoretical arrival time tat:
// burst+1 requests pass at once, then one per interval (nginx's limit_req
// with burst and nodelay).
func (r rate) take(tat, now int64) (int64, bool) {
	if r.interval == 0 {
		return tat, true
	}
	tat = max(tat, now)
	if tat-now > r.tolerance {
		return tat, false
	}
	return tat + r.interval, true
}

func (l *Limiter) exempt(addr netip.Addr) bool {
	for _, p := range l.cfg.Allowlist {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func (l *Limiter) shard(addr netip.Addr) ([16]byte, *shard) {
	key := addr.As16()
	h := uint32(2166136261)
	for _, b := range key {
		h = (h ^ uint32(b)) * 16777619
	}
	return key, &l.shards[h%shards]
}

// evict makes room for one entry: it forgets up to 8 clients whose
// allowance has fully recovered and who have no open request, looking at 32
// at most, or else the first client it saw.
func (sh *shard) evict(now int64) {
	seen, freed := 0, 0
	var first [16]byte
	for k, st := range sh.m {
		if seen == 0 {
			first = k
		}
		seen++
		if st.conns == 0 && st.tatRPS <= now && st.tatRPM <= now {
			delete(sh.m, k)
			if freed++; freed == 8 {
				return
			}
		}
		if seen == 32 {
			break
		}
	}
	if freed == 0 {
		delete(sh.m, first)
	}
}
