package ratelimit

import (
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/annotations"
)

// clocked returns a Limiter on a fake clock.
func clocked(c Config) (*Limiter, *atomic.Int64) {
	l := New(c)
	var now atomic.Int64
	now.Store(int64(time.Hour))
	l.now = now.Load
	return l, &now
}

var client = netip.MustParseAddr("192.0.2.1")

func admitted(l *Limiter, addr netip.Addr, n int) int {
	ok := 0
	for i := 0; i < n; i++ {
		if l.Acquire(addr) {
			ok++
		}
	}
	return ok
}

func TestRPSBurstThenRate(t *testing.T) {
	l, now := clocked(Config{RPS: 2, BurstMultiplier: 5})
	assert.Equal(t, 11, admitted(l, client, 20), "burst of 2x5 beyond the first, as nginx's limit_req burst nodelay")
	now.Add(int64(time.Second))
	assert.Equal(t, 2, admitted(l, client, 20), "then 2 per second")
	assert.Equal(t, 11, admitted(l, netip.MustParseAddr("2001:db8::1"), 20), "per client address")
	now.Add(int64(time.Hour))
	assert.Equal(t, 11, admitted(l, client, 20), "the allowance recovers")
}

func TestRPMAndRPSTogether(t *testing.T) {
	l, now := clocked(Config{RPS: 10, RPM: 6, BurstMultiplier: 1})
	assert.Equal(t, 7, admitted(l, client, 20), "the stricter limit decides")
	now.Add(int64(10 * time.Second))
	assert.Equal(t, 1, admitted(l, client, 20))
}

func TestConnections(t *testing.T) {
	l, _ := clocked(Config{Connections: 2})
	assert.True(t, l.Acquire(client))
	assert.True(t, l.Acquire(client))
	assert.False(t, l.Acquire(client))
	l.Release(client)
	assert.True(t, l.Acquire(client))
	l.Release(netip.MustParseAddr("192.0.2.99")) // unknown: nothing happens
	l.Release(client)
	l.Release(client)
	l.Release(client) // more releases than requests never go negative
	assert.Equal(t, 2, admitted(l, client, 3))
}

func TestRejectedRateDoesNotHoldAConnection(t *testing.T) {
	l, _ := clocked(Config{Connections: 5, RPS: 1, BurstMultiplier: 1})
	assert.Equal(t, 2, admitted(l, client, 10))
	key, sh := l.shard(client)
	assert.EqualValues(t, 2, sh.m[key].conns, "rejected requests took no connection slot")
}

func TestAllowlist(t *testing.T) {
	l, _ := clocked(Config{RPS: 1, BurstMultiplier: 1, Connections: 1, Allowlist: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	assert.Equal(t, 100, admitted(l, netip.MustParseAddr("10.1.2.3"), 100))
	assert.Equal(t, 1, admitted(l, client, 100))
}

// A flood of distinct addresses keeps memory bounded: at most MaxClients
// are remembered, and the heap stays within a few MiB of where it started.
func TestMillionAddressesBoundedMemory(t *testing.T) {
	l, now := clocked(Config{RPS: 10, Connections: 100, BurstMultiplier: 5})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var b [4]byte
	for i := 0; i < 1_000_000; i++ {
		b[0], b[1], b[2], b[3] = 10, byte(i>>16), byte(i>>8), byte(i)
		b[0] += byte(i >> 24)
		addr := netip.AddrFrom4(b)
		require.True(t, l.Acquire(addr))
		l.Release(addr)
		if i%1000 == 0 {
			now.Add(int64(time.Millisecond))
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	n := 0
	for i := range l.shards {
		n += len(l.shards[i].m)
	}
	assert.LessOrEqual(t, n, DefaultMaxClients)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("remembered %d clients; heap grew %d KiB", n, grown>>10)
	assert.Less(t, grown, int64(32<<20), "heap must stay bounded (about 12 MiB measured; unbounded would be over 100 MiB)")
}

func TestSharedSurvivesRebuilds(t *testing.T) {
	c := Config{RPS: 1}
	a := Shared("Ingress ns/a", c)
	assert.Same(t, a, Shared("Ingress ns/a", c), "the same Ingress and limits keep their state")
	assert.NotSame(t, a, Shared("Ingress ns/a", Config{RPS: 2}), "changed limits start afresh")
	assert.NotSame(t, a, Shared("Ingress ns/b", c))
	runtime.KeepAlive(a)
}

func TestAcquireAllocatesNothing(t *testing.T) {
	l, _ := clocked(Config{RPS: 1000000, Connections: 10})
	l.Acquire(client)
	l.Release(client)
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		l.Acquire(client)
		l.Release(client)
	}))
}

func BenchmarkAcquireParallel(b *testing.B) {
	l := New(Config{RPS: 1 << 30, Connections: 1 << 20})
	b.RunParallel(func(pb *testing.PB) {
		var a [4]byte
		i := 0
		for pb.Next() {
			i++
			a[2], a[3] = byte(i>>8), byte(i)
			addr := netip.AddrFrom4(a)
			l.Acquire(addr)
			l.Release(addr)
		}
	})
}

// FuzzRateLimitValues parses limit-* annotation values and runs the limiter
// built from them: an invalid value drops the Ingress (never a limiter with
// a wrapped rate), and a valid one always admits a client's first request.
func FuzzRateLimitValues(f *testing.F) {
	f.Add("10", "0", "3", "5", "10.0.0.0/8")
	f.Add("99999999999999999999", "-1", "x", "0", "nope")
	f.Add("1073741824", "1073741824", "1073741824", "1000", "::/0")
	f.Fuzz(func(t *testing.T, rps, rpm, conns, mult, allow string) {
		c, _ := annotations.Parse(map[string]string{annotations.Prefix + "limit-rps": rps, annotations.Prefix + "limit-rpm": rpm,
			annotations.Prefix + "limit-connections": conns, annotations.Prefix + "limit-burst-multiplier": mult,
			annotations.Prefix + "limit-allowlist": allow})
		r := c.RateLimit
		if r == nil || c.DropIngress {
			return
		}
		l := New(Config{RPS: r.RPS, RPM: r.RPM, Connections: r.Connections, BurstMultiplier: r.BurstMultiplier, Allowlist: r.Allowlist})
		if l.rps.interval < 0 || l.rpm.interval < 0 || l.rps.tolerance < 0 || l.rpm.tolerance < 0 {
			t.Fatalf("negative rate %+v %+v", l.rps, l.rpm)
		}
		if !l.Acquire(client) {
			t.Fatalf("first request refused with %+v", r)
		}
		l.Release(client)
	})
}
