package table

import (
	"hash/maphash"
	"math/bits"
	"slices"
)

// hostMap is an immutable hash map from host names (as Lookup sees them:
// lower case; for wildcards the suffix after "*.") to their routes. It is
// split into shards by the top bits of the name's hash, and with derives a
// map that differs in some names by copying only the shards those names
// fall in: a table WithHosts derives costs in proportion to the change,
// not to the number of hosts. get hashes once and allocates nothing, as a
// Go map's lookup; up to smallHosts names are compared without a hash, as
// a small Go map's are.
type hostMap struct {
	small  []hostSlot   // the entries when there are at most smallHosts
	shards []*hostShard // otherwise; a power of two of them
	shift  uint         // a hash's shard is hash >> shift
	n      int          // entries
}

const (
	smallHosts = 8
	shardHosts = 32 // entries per shard, on average, when a map is built
)

// hostSeed seeds every hostMap's hash: a derived map keeps its parent's
// shards, so all must hash alike.
var hostSeed = maphash.MakeSeed()

// hostShard is an open-addressing table (linear probing) at most half full,
// so a probe always ends at an empty slot.
type hostShard struct{ slots []hostSlot }

type hostSlot struct {
	hash uint64
	name string
	h    *hostRoutes // nil: empty slot
}

func hashHost(name string) uint64 { return maphash.String(hostSeed, name) }

// newHostMap builds a map of entries (no nil values).
func newHostMap(entries map[string]*hostRoutes) hostMap {
	m := hostMap{n: len(entries)}
	if len(entries) <= smallHosts {
		for name, h := range entries {
			m.small = append(m.small, hostSlot{name: name, h: h})
		}
		return m
	}
	n := 1
	for n*shardHosts < len(entries) {
		n *= 2
	}
	m.shift = uint(64 - bits.TrailingZeros(uint(n))) // n == 1: a shift of 64 gives 0
	groups := make([][]hostSlot, n)
	for name, h := range entries {
		hv := hashHost(name)
		groups[hv>>m.shift] = append(groups[hv>>m.shift], hostSlot{hash: hv, name: name, h: h})
	}
	m.shards = make([]*hostShard, n)
	for i, g := range groups {
		m.shards[i] = newShard(g)
	}
	return m
}

func newShard(entries []hostSlot) *hostShard {
	size := 2
	for size < 2*len(entries) {
		size *= 2
	}
	s := &hostShard{slots: make([]hostSlot, size)}
	mask := uint64(size - 1)
	for _, e := range entries {
		i := e.hash & mask
		for s.slots[i].h != nil {
			i = (i + 1) & mask
		}
		s.slots[i] = e
	}
	return s
}

// get returns name's routes (nil: none).
func (m *hostMap) get(name string) *hostRoutes {
	if m.shards == nil {
		for i := range m.small {
			if m.small[i].name == name {
				return m.small[i].h
			}
		}
		return nil
	}
	hv := hashHost(name)
	slots := m.shards[hv>>m.shift].slots
	mask := uint64(len(slots) - 1)
	for i := hv & mask; ; i = (i + 1) & mask {
		s := &slots[i]
		if s.h == nil {
			return nil
		}
		if s.hash == hv && s.name == name {
			return s.h
		}
	}
}

// each calls f with every entry, in no particular order.
func (m *hostMap) each(f func(name string, h *hostRoutes)) {
	for _, s := range m.small {
		f(s.name, s.h)
	}
	for _, sh := range m.shards {
		for _, s := range sh.slots {
			if s.h != nil {
				f(s.name, s.h)
			}
		}
	}
}

// with returns a map equal to m but for the names of changes, which get
// their value there (nil: no entry). m is unchanged; the shards no change
// falls in are shared. When the number of entries has moved far from what
// the shards were sized for, the map is built anew (that happens only
// after as many changes as there are entries, so it costs little on
// average).
func (m hostMap) with(changes map[string]*hostRoutes) hostMap {
	if len(changes) == 0 {
		return m
	}
	n := m.n
	for name, h := range changes {
		if m.get(name) != nil {
			n--
		}
		if h != nil {
			n++
		}
	}
	if m.shards == nil || n <= smallHosts || n > 4*shardHosts*len(m.shards) || 4*n < shardHosts*len(m.shards) {
		all := make(map[string]*hostRoutes, n)
		m.each(func(name string, h *hostRoutes) { all[name] = h })
		for name, h := range changes {
			if h == nil {
				delete(all, name)
			} else {
				all[name] = h
			}
		}
		return newHostMap(all)
	}
	byShard := map[uint64][]hostSlot{}
	for name, h := range changes {
		hv := hashHost(name)
		byShard[hv>>m.shift] = append(byShard[hv>>m.shift], hostSlot{hash: hv, name: name, h: h})
	}
	out := hostMap{shards: slices.Clone(m.shards), shift: m.shift, n: n}
	for si, chs := range byShard {
		var entries []hostSlot
		for _, s := range m.shards[si].slots {
			if s.h != nil && !slices.ContainsFunc(chs, func(c hostSlot) bool { return c.name == s.name }) {
				entries = append(entries, s)
			}
		}
		for _, c := range chs {
			if c.h != nil {
				entries = append(entries, c)
			}
		}
		out.shards[si] = newShard(entries)
	}
	return out
}
