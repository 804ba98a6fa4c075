package table

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type avail map[*Backend]bool

func (a avail) Available(b *Backend) bool { return a[b] }

// fixedRand returns n-1 or 0: the extremes of every draw.
type fixedRand struct{ high bool }

func (f fixedRand) IntN(n int) int {
	if f.high {
		return n - 1
	}
	return 0
}

type canaryCase struct {
	name   string
	canary Canary
	header map[string]string
	cookie string
	rnd    Rand
	want   Side
}

func TestCanaryPrecedenceAndFallThrough(t *testing.T) {
	hdr := func(c Canary) Canary { c.Header = "X-Canary"; return c }
	lowDraw, highDraw := fixedRand{}, fixedRand{high: true}
	w := func(c Canary, weight int) Canary { c.Weight = weight; return c }
	cases := []canaryCase{
		{name: "no rules, weight 0", canary: Canary{}, want: SideMain},
		{name: "weight total always", canary: w(Canary{}, 100), rnd: highDraw, want: SideCanary},
		{name: "weight draw below", canary: w(Canary{}, 10), rnd: lowDraw, want: SideCanary},
		{name: "weight draw above", canary: w(Canary{}, 10), rnd: highDraw, want: SideMain},
		{name: "header always", canary: hdr(Canary{}), header: map[string]string{"x-canary": "always"}, want: SideCanary},
		{name: "header never stops weight", canary: w(hdr(Canary{}), 100), header: map[string]string{"X-Canary": "never"}, want: SideMain},
		{name: "header never stops cookie", canary: func() Canary { c := hdr(Canary{}); c.Cookie = "ck"; return c }(), header: map[string]string{"X-Canary": "never"}, cookie: "ck=always", want: SideMain},
		{name: "header other value falls to weight", canary: w(hdr(Canary{}), 100), header: map[string]string{"X-Canary": "maybe"}, want: SideCanary},
		{name: "header empty value counts as present", canary: hdr(Canary{}), header: map[string]string{"X-Canary": ""}, want: SideMain},
		{name: "header absent", canary: hdr(Canary{}), want: SideMain},
		{name: "header value exact", canary: func() Canary { c := hdr(Canary{}); c.HeaderValue = "v2"; return c }(), header: map[string]string{"X-Canary": "v2"}, want: SideCanary},
		{name: "header value case-sensitive", canary: func() Canary { c := hdr(Canary{}); c.HeaderValue = "v2"; return c }(), header: map[string]string{"X-Canary": "V2"}, want: SideMain},
		{name: "header value: always has no meaning", canary: func() Canary { c := hdr(Canary{}); c.HeaderValue = "v2"; return c }(), header: map[string]string{"X-Canary": "always"}, want: SideMain},
		{name: "header value: never has no meaning", canary: func() Canary { c := w(hdr(Canary{}), 100); c.HeaderValue = "v2"; return c }(), header: map[string]string{"X-Canary": "never"}, want: SideCanary},
		{name: "header value mismatch falls to cookie", canary: func() Canary { c := hdr(Canary{}); c.HeaderValue = "v2"; c.Cookie = "ck"; return c }(), header: map[string]string{"X-Canary": "v3"}, cookie: "ck=always", want: SideCanary},
		{name: "header pattern unanchored", canary: func() Canary { c := hdr(Canary{}); c.HeaderPattern = regexp.MustCompile("beta"); return c }(), header: map[string]string{"X-Canary": "x-beta-y"}, want: SideCanary},
		{name: "header pattern miss", canary: func() Canary { c := hdr(Canary{}); c.HeaderPattern = regexp.MustCompile("^beta$"); return c }(), header: map[string]string{"X-Canary": "Beta"}, want: SideMain},
		{name: "value wins over pattern", canary: func() Canary {
			c := hdr(Canary{})
			c.HeaderValue = "v2"
			c.HeaderPattern = regexp.MustCompile(".*")
			return c
		}(), header: map[string]string{"X-Canary": "v3"}, want: SideMain},
		{name: "underscore header names match", canary: Canary{Header: "x_canary"}, header: map[string]string{"X_canary": "always"}, want: SideCanary},
		{name: "cookie always", canary: Canary{Cookie: "ck"}, cookie: "a=b; ck=always", want: SideCanary},
		{name: "cookie never stops weight", canary: w(Canary{Cookie: "ck"}, 100), cookie: "ck=never", want: SideMain},
		{name: "cookie other falls to weight", canary: w(Canary{Cookie: "ck"}, 100), cookie: "ck=1", want: SideCanary},
		{name: "header beats cookie", canary: func() Canary { c := hdr(Canary{}); c.Cookie = "ck"; return c }(), header: map[string]string{"X-Canary": "always"}, cookie: "ck=never", want: SideCanary},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			main, cb := backend("main"), backend("canary")
			c := tc.canary
			c.Backend = cb
			if c.WeightTotal == 0 {
				c.WeightTotal = 100
			}
			rt := &Route{Path: PathMatch{Value: "/"}, Action: &Action{Split: Split{Main: main, Canary: &c}}}
			mustNew(t, rt)
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for k, v := range tc.header {
				r.Header[http.CanonicalHeaderKey(k)] = []string{v}
			}
			if tc.cookie != "" {
				r.Header.Set("Cookie", tc.cookie)
			}
			rnd := tc.rnd
			if rnd == nil {
				rnd = lowDraw
			}
			got, side := rt.Action.Split.Choose(r, rnd, avail{main: true, cb: true})
			assert.Equal(t, tc.want, side)
			if side == SideCanary {
				assert.Same(t, cb, got)
			} else {
				assert.Same(t, main, got)
			}
		})
	}
}

func TestCanaryUnavailableFallsBackToMain(t *testing.T) {
	main, cb := backend("main"), backend("canary")
	rt := &Route{Path: PathMatch{Value: "/"}, Action: &Action{Split: Split{Main: main, Canary: &Canary{Backend: cb, Header: "X", WeightTotal: 100}}}}
	mustNew(t, rt)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X", "always")
	got, side := rt.Action.Split.Choose(r, fixedRand{}, avail{main: true})
	assert.Same(t, main, got)
	assert.Equal(t, SideMain, side)
	// The main side having no endpoint does not stop the rules.
	got, _ = rt.Action.Split.Choose(r, fixedRand{}, avail{cb: true})
	assert.Same(t, cb, got)
}

func TestCanaryWeightShare(t *testing.T) {
	// A 10 % canary over 100,000 seeded draws lands within ±0.5 points.
	for _, tc := range []struct{ weight, total int }{{10, 100}, {1, 10}, {500, 5000}} {
		main, cb := backend("main"), backend("canary")
		s := Split{Main: main, Canary: &Canary{Backend: cb, Weight: tc.weight, WeightTotal: tc.total}}
		rnd := rand.New(rand.NewPCG(1, 2))
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		n, hits := 100000, 0
		for i := 0; i < n; i++ {
			if _, side := s.Choose(r, rnd, avail{main: true, cb: true}); side == SideCanary {
				hits++
			}
		}
		share := float64(hits) / float64(n)
		assert.InDelta(t, 0.10, share, 0.005, "weight %d/%d", tc.weight, tc.total)
	}
}

func TestWeightedSplit(t *testing.T) {
	a, b, z := backend("a"), backend("b"), backend("zero")
	s := Split{Weighted: []WeightedBackend{{Backend: a, Weight: 70}, {Backend: b, Weight: 30}, {Backend: z, Weight: 0}}}
	rnd := rand.New(rand.NewPCG(3, 4))
	counts := map[*Backend]int{}
	n := 100000
	for i := 0; i < n; i++ {
		got, _ := s.Choose(nil, rnd, nil)
		counts[got]++
	}
	assert.Zero(t, counts[z], "weight 0 gets exactly nothing")
	assert.InDelta(t, 0.7, float64(counts[a])/float64(n), 0.01)
	assert.InDelta(t, 0.3, float64(counts[b])/float64(n), 0.01)

	none := Split{Weighted: []WeightedBackend{{Backend: a}}}
	got, _ := none.Choose(nil, rnd, nil)
	assert.Nil(t, got, "all weights 0 chooses nothing (500)")
}

func TestCookieValue(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Add("Cookie", `a=1; b="two"`)
	r.Header.Add("Cookie", "c=3")
	for name, want := range map[string]string{"a": "1", "b": "two", "c": "3"} {
		v, ok := CookieValue(r, name)
		require.True(t, ok, name)
		assert.Equal(t, want, v)
	}
	_, ok := CookieValue(r, "d")
	assert.False(t, ok)
}
