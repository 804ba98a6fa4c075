package table

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A derived table serves the kept hosts from the very routes and backends
// of the table it came from (same indices), the replaced hosts from the new
// routes, and leaves the table it came from as it was.
func TestWithHostsReplacesOnlyTheNamedHosts(t *testing.T) {
	shared, onlyB, wild := backend("shared"), backend("onlyB"), backend("wild")
	a := route("a.test", PathPrefix, "/", shared)
	b1 := route("b.test", PathPrefix, "/", onlyB)
	b2 := route("b.test", PathPrefix, "/s", shared)
	w := route("*.test", PathPrefix, "/", wild)
	old := mustNew(t, a, b1, b2, w)
	before := old.Dump()

	fresh := backend("fresh")
	nb := route("b.test", PathExact, "/new", fresh)
	nc := route("c.test", PathPrefix, "/", shared)
	nt, err := old.WithHosts(2, []string{"B.test", "c.test"}, []*Route{nb, nc})
	require.NoError(t, err)

	assert.Equal(t, before, old.Dump(), "the table in service is unchanged")
	assert.Equal(t, "shared", served(old, "b.test", "/s"))
	assert.Equal(t, "shared", served(nt, "a.test", "/x"))
	assert.Equal(t, "fresh", served(nt, "b.test", "/new"))
	assert.Equal(t, "404", served(nt, "b.test", "/s"), "b.test's old routes are gone, its host entry stays")
	assert.Equal(t, "shared", served(nt, "c.test", "/"))
	assert.Equal(t, "wild", served(nt, "d.test", "/"))
	assert.Equal(t, uint64(2), nt.Generation())
	assert.Same(t, old, nt.DerivedFrom())

	assert.Same(t, a, nt.Route(0), "a kept route is shared, at its index")
	assert.Same(t, w, nt.Route(3))
	assert.Equal(t, 0, a.Index())
	assert.Equal(t, 3, w.Index())
	assert.ElementsMatch(t, []int{1, 2}, []int{nb.Index(), nc.Index()}, "new routes take the freed indices")
	assert.Equal(t, 4, nt.Len())

	assert.Same(t, shared, nt.Backend(shared.Index()))
	assert.Nil(t, nt.Backend(onlyB.Index()), "a backend no route uses is freed")
	assert.Same(t, old.Backend(onlyB.Index()), onlyB, "and stays in the old table")
	assert.Equal(t, old.NumBackends(), fresh.Index(), "a new backend is appended")
	assert.True(t, nt.Has(fresh))
	assert.False(t, nt.Has(onlyB))
	assert.Equal(t, &Changes{Routes: []int{1, 2}, Backends: []int{onlyB.Index(), fresh.Index()}}, nt.Changes())
	assert.Nil(t, old.Changes())
	assert.NotContains(t, nt.Dump(), "onlyB")
}

// Endpoints follow the table: a kept backend has the endpoints the table in
// service holds for it (WithEndpoints may have changed them), a new one
// its own.
func TestWithHostsKeepsEndpointsOfTheTableInService(t *testing.T) {
	kept := &Backend{Name: "kept", Endpoints: []Endpoint{{Address: "10.0.0.1:80"}}}
	old := mustNew(t, route("a.test", PathPrefix, "/", kept))
	moved := old.WithEndpoints(2, map[int][]Endpoint{kept.Index(): {{Address: "10.0.0.2:80"}}})
	fresh := &Backend{Name: "fresh", Endpoints: []Endpoint{{Address: "10.0.0.3:80"}}}
	nt, err := moved.WithHosts(3, []string{"b.test"}, []*Route{route("b.test", PathPrefix, "/", fresh), route("b.test", PathPrefix, "/k", kept)})
	require.NoError(t, err)
	assert.Equal(t, []Endpoint{{Address: "10.0.0.2:80"}}, nt.Endpoints(kept))
	assert.Equal(t, []Endpoint{{Address: "10.0.0.3:80"}}, nt.Endpoints(fresh))
	assert.Nil(t, moved.Changes(), "WithEndpoints says nothing about routes")
	again := nt.WithEndpoints(4, nil)
	assert.Nil(t, again.Changes())
}

// A route on a host that is not replaced, or one that does not compile, is
// refused and the table in service stays as it was.
func TestWithHostsRefusesBadRoutes(t *testing.T) {
	old := mustNew(t, route("a.test", PathPrefix, "/", backend("a")))
	before := old.Dump()
	_, err := old.WithHosts(2, []string{"b.test"}, []*Route{route("a.test", PathPrefix, "/x", backend("x"))})
	require.ErrorContains(t, err, "not one of those replaced")
	_, err = old.WithHosts(2, []string{"b.test"}, []*Route{{Host: "b.test", Path: PathMatch{Type: PathRegex, Value: "("}, Action: fwd(backend("x"))}})
	require.Error(t, err)
	assert.Equal(t, before, old.Dump())
}

// A table that has become mostly holes is refused: New builds it compactly.
func TestWithHostsDeclinesASparseTable(t *testing.T) {
	var routes []*Route
	for i := range 200 {
		routes = append(routes, route(string(rune('a'+i%26))+"x"+string(rune('a'+i/26))+".test", PathPrefix, "/", backend("b")))
	}
	old := mustNew(t, routes...)
	var hosts []string
	for _, r := range routes[:150] {
		hosts = append(hosts, r.Host)
	}
	_, err := old.WithHosts(2, hosts, nil)
	require.True(t, errors.Is(err, ErrSparse), "%v", err)
	nt, err := old.WithHosts(2, hosts[:10], nil)
	require.NoError(t, err)
	assert.Equal(t, "404", served(nt, routes[0].Host, "/"))
	assert.Equal(t, "b", served(nt, routes[199].Host, "/"))
}

// The holes are counted across successive derived tables: removing ten
// hosts at a time (a route and a backend each) is refused at the sixth
// table, when 120 of 400 indices are holes.
func TestWithHostsCountsHolesAcrossDerivedTables(t *testing.T) {
	var routes []*Route
	for i := range 200 {
		routes = append(routes, route(string(rune('a'+i%26))+"x"+string(rune('a'+i/26))+".test", PathPrefix, "/", backend("b")))
	}
	cur := mustNew(t, routes...)
	for k := 1; k <= 6; k++ {
		var hosts []string
		for _, r := range routes[(k-1)*10 : k*10] {
			hosts = append(hosts, r.Host)
		}
		nt, err := cur.WithHosts(uint64(k+1), hosts, nil)
		if k == 6 {
			require.ErrorIs(t, err, ErrSparse)
			return
		}
		require.NoError(t, err, "table %d", k)
		assert.Equal(t, 20*k, nt.holes)
		cur = nt
	}
}
