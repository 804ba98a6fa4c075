package table

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestHostMapEqualsAGoMap derives hostMaps through random changes (adds,
// replacements, deletions, growth from a few names to thousands and back)
// and requires each to answer as a Go map with the same changes would,
// every earlier map to be left as it was, and a derived map to share the
// shards no change fell in.
func TestHostMapEqualsAGoMap(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	ref := map[string]*hostRoutes{}
	m := newHostMap(ref)
	type kept struct {
		m   hostMap
		ref map[string]*hostRoutes
	}
	var history []kept
	for step := range 400 {
		changes := map[string]*hostRoutes{}
		grow := step < 200
		for range 1 + rnd.IntN(40) {
			name := fmt.Sprintf("h%d.example.com", rnd.IntN(3000))
			if grow || rnd.IntN(4) == 0 {
				changes[name] = &hostRoutes{name: name}
			} else {
				changes[name] = nil
			}
		}
		next := m.with(changes)
		for name, h := range changes {
			if h == nil {
				delete(ref, name)
			} else {
				ref[name] = h
			}
		}
		requireSameHosts(t, next, ref, step)
		if next.shards != nil && m.shards != nil && len(next.shards) == len(m.shards) {
			touched := map[uint64]bool{}
			for name := range changes {
				touched[hashHost(name)>>m.shift] = true
			}
			for i := range m.shards {
				if !touched[uint64(i)] {
					require.Same(t, m.shards[i], next.shards[i], "step %d: shard %d is shared", step, i)
				}
			}
		}
		if step%50 == 0 {
			history = append(history, kept{next, maps.Clone(ref)})
		}
		m = next
	}
	for i, k := range history {
		requireSameHosts(t, k.m, k.ref, i)
	}
}

func requireSameHosts(t *testing.T, m hostMap, ref map[string]*hostRoutes, step int) {
	t.Helper()
	require.Equal(t, len(ref), m.n, "step %d", step)
	got := map[string]*hostRoutes{}
	m.each(func(name string, h *hostRoutes) { got[name] = h })
	require.Equal(t, ref, got, "step %d", step)
	for name, h := range ref {
		require.Same(t, h, m.get(name), "step %d: %s", step, name)
	}
	require.Nil(t, m.get("absent.example.com"), "step %d", step)
}
