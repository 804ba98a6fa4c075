package table

import (
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// randomRoute draws a route from small sets so that ties on every key
// happen often.
func randomRoute(r *rand.Rand) *Route {
	paths := []string{"/", "/a", "/a/b", "/ab", "/b", "/a.*"}
	types := []PathType{PathPrefix, PathExact, PathRegex, PathRegexFull}
	rt := route("h", types[r.IntN(len(types))], paths[r.IntN(len(paths))], backend("b"))
	if r.IntN(2) == 0 {
		rt.Method = []string{"GET", "POST"}[r.IntN(2)]
	}
	rt.Headers = make([]HeaderMatch, r.IntN(3))
	rt.Query = make([]QueryMatch, r.IntN(3))
	rt.HostRank = []int{0, 13, 1<<20 + 11}[r.IntN(3)]
	rt.Order = r.IntN(6)
	return rt
}

// TestCompareRoutesIsATotalOrderOnRandomRoutes checks the one precedence
// function, Gateway keys included, on random routes: antisymmetric,
// transitive, and 0 only for routes that agree on every key.
func TestCompareRoutesIsATotalOrderOnRandomRoutes(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for round := 0; round < 10; round++ {
		rs := make([]*Route, 40)
		for i := range rs {
			rs[i] = randomRoute(r)
		}
		for _, a := range rs {
			for _, b := range rs {
				ab, ba := compareRoutes(a, b), compareRoutes(b, a)
				require.Equal(t, ab < 0, ba > 0, "antisymmetric")
				if ab == 0 {
					require.Equal(t, sameKeys(a, b), true, "only identical keys tie: %+v %+v", a, b)
				}
				for _, c := range rs {
					if compareRoutes(a, b) <= 0 && compareRoutes(b, c) <= 0 {
						require.LessOrEqual(t, compareRoutes(a, c), 0, "transitive")
					}
				}
			}
		}
		sorted := slices.Clone(rs)
		slices.SortStableFunc(sorted, compareRoutes)
		for i := 1; i < len(sorted); i++ {
			require.LessOrEqual(t, compareRoutes(sorted[i-1], sorted[i]), 0)
		}
	}
}

func sameKeys(a, b *Route) bool {
	return a.HostRank == b.HostRank && a.Path.Type == b.Path.Type && a.Path.Value == b.Path.Value &&
		(a.Method != "") == (b.Method != "") && len(a.Headers) == len(b.Headers) && len(a.Query) == len(b.Query) && a.Order == b.Order
}

// TestGatewayPrecedence is the Gateway API's order: the route whose own
// hostname matched more specifically, then Exact, the longest prefix,
// method, most headers, most query parameters, then Order (oldest route,
// namespace/name, rule and match index).
func TestGatewayPrecedence(t *testing.T) {
	r := func(pt PathType, p string, rank, order int) *Route {
		rt := route("h", pt, p, backend("b"))
		rt.HostRank, rt.Order = rank, order
		return rt
	}
	exactHost := r(PathPrefix, "/", 1<<20+9, 9)
	wildHost := r(PathExact, "/a/b/c", 11, 1)
	assert.True(t, Less(exactHost, wildHost), "hostname specificity before path")
	assert.True(t, Less(r(PathExact, "/a", 0, 5), r(PathPrefix, "/a/b", 0, 1)), "exact before prefix")
	assert.True(t, Less(r(PathPrefix, "/a", 0, 1), r(PathPrefix, "/a", 0, 2)), "older first")
}

func TestGatewayHostLookup(t *testing.T) {
	rt := func(host string) *Route { return route(host, PathPrefix, "/", backend(host)) }
	tb, err := NewWithOptions(1, []*Route{rt("*.example.com"), rt("*.b.example.com"), rt("a.example.com"), rt("")}, nil,
		Options{GatewayHosts: true, Hosts: []string{"*.quiet.example.com"}})
	require.NoError(t, err)
	for host, want := range map[string]string{
		"a.example.com":         "a.example.com",
		"x.example.com":         "*.example.com",
		"x.y.example.com":       "*.example.com",
		"x.b.example.com":       "*.b.example.com",
		"x.y.b.example.com":     "*.b.example.com",
		"b.example.com":         "*.example.com",
		"example.com":           "",
		"other.org":             "",
		"x.quiet.example.com":   "none",
		"x.y.quiet.example.com": "none",
	} {
		got := tb.Lookup(host, "/", httptest.NewRequest("GET", "/", nil))
		if want == "none" {
			assert.Nil(t, got, host)
			continue
		}
		require.NotNil(t, got, host)
		assert.Equal(t, want, got.Action.Split.Main.Name, host)
	}
	ing := mustNew(t, rt("*.example.com"))
	assert.Nil(t, ing.Lookup("x.y.example.com", "/", nil), "Ingress keeps its one-label wildcard")
}

func TestFullRegexIsWholePathAndCaseSensitive(t *testing.T) {
	rt := route("h", PathRegexFull, "/v[0-9]+", backend("b"))
	mustNew(t, rt)
	assert.True(t, rt.matches("/v12", nil))
	assert.False(t, rt.matches("/v12/x", nil), "whole path")
	assert.False(t, rt.matches("/V12", nil), "case-sensitive")
	assert.False(t, rt.matches("/x/v12", nil))
}

func TestForBackendAddsTheBackendsEdits(t *testing.T) {
	a, b := backend("a"), backend("b")
	act := &Action{RequestHeaders: HeaderEdits{Set: []Header{{"X-Route", "r"}}}, Split: Split{Weighted: []WeightedBackend{
		{Backend: a, Weight: 1, Filters: &BackendFilters{RequestHeaders: HeaderEdits{Set: []Header{{"X-Backend", "a"}}}}},
		{Backend: b, Weight: 1}}}}
	mustNew(t, &Route{Host: "h", Path: PathMatch{Value: "/"}, Action: act})
	got := act.ForBackend(a)
	assert.Equal(t, []Header{{"X-Route", "r"}, {"X-Backend", "a"}}, got.RequestHeaders.Set)
	assert.Same(t, act, act.ForBackend(b), "no edits, no copy")
	assert.Equal(t, 0, int(testing.AllocsPerRun(100, func() { act.ForBackend(a) })))
}
