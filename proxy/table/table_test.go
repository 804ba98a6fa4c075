package table

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func backend(name string) *Backend { return &Backend{Name: name} }

func fwd(b *Backend) *Action { return &Action{Split: Split{Main: b}} }

func route(host string, t PathType, path string, b *Backend) *Route {
	return &Route{Host: host, Path: PathMatch{Type: t, Value: path}, Action: fwd(b)}
}

func mustNew(t *testing.T, routes ...*Route) *Table {
	t.Helper()
	tb, err := New(1, routes, nil)
	require.NoError(t, err)
	return tb
}

// served names the backend that serves host+path, or "404".
func served(tb *Table, host, path string) string {
	r := httptest.NewRequest(http.MethodGet, "http://"+host+path, nil)
	rt := tb.Lookup(NormalizeHost(host), CleanPath(path), r)
	if rt == nil {
		return "404"
	}
	return rt.Action.Split.Main.Name
}

func TestPrefixMatchesByElement(t *testing.T) {
	tb := mustNew(t, route("a.test", PathPrefix, "/foo", backend("foo")),
		route("a.test", PathPrefix, "/bar/", backend("bar")))
	cases := map[string]string{
		"/foo": "foo", "/foo/": "foo", "/foo/x": "foo", "/foobar": "404",
		"/bar/": "bar", "/bar/x": "bar", "/bar": "404", "/": "404",
	}
	for path, want := range cases {
		assert.Equal(t, want, served(tb, "a.test", path), path)
	}
}

func TestExactBeatsPrefixAndIsCaseSensitive(t *testing.T) {
	tb := mustNew(t, route("a.test", PathPrefix, "/foo", backend("prefix")),
		route("a.test", PathExact, "/foo", backend("exact")),
		route("a.test", PathPrefix, "/", backend("root")))
	assert.Equal(t, "exact", served(tb, "a.test", "/foo"))
	assert.Equal(t, "prefix", served(tb, "a.test", "/foo/"))
	assert.Equal(t, "root", served(tb, "a.test", "/FOO"))
}

func TestLongestPrefixWins(t *testing.T) {
	tb := mustNew(t, route("a.test", PathPrefix, "/", backend("root")),
		route("a.test", PathPrefix, "/a", backend("a")),
		route("a.test", PathPrefix, "/a/b", backend("ab")))
	assert.Equal(t, "ab", served(tb, "a.test", "/a/b/c"))
	assert.Equal(t, "a", served(tb, "a.test", "/a/bc"))
	assert.Equal(t, "root", served(tb, "a.test", "/b"))
}

func TestRegexHostOrdersByLength(t *testing.T) {
	// ingress-nginx orders a regex host's locations by path length; the
	// regex is case-insensitive and anchored at the start only.
	tb := mustNew(t, route("a.test", PathRegex, "/api/v[0-9]+", backend("re")),
		route("a.test", PathPrefix, "/api", backend("api")),
		route("a.test", PathExact, "/api/v1", backend("exact")))
	assert.Equal(t, "exact", served(tb, "a.test", "/api/v1"))
	assert.Equal(t, "re", served(tb, "a.test", "/API/V2/users"))
	assert.Equal(t, "api", served(tb, "a.test", "/api/x"))
	assert.Equal(t, "404", served(tb, "a.test", "/x/api/v1"))
}

func TestHosts(t *testing.T) {
	tb := mustNew(t, route("a.example.com", PathPrefix, "/", backend("exact")),
		route("*.example.com", PathPrefix, "/", backend("wild")),
		route("", PathPrefix, "/", backend("any")))
	cases := map[string]string{
		"a.example.com":      "exact",
		"A.Example.COM.":     "exact",
		"a.example.com:8080": "exact",
		"b.example.com":      "wild",
		"x.b.example.com":    "any",
		"example.com":        "any",
		"other.test":         "any",
		"[::1]:80":           "any",
	}
	for host, want := range cases {
		assert.Equal(t, want, served(tb, host, "/"), host)
	}
}

func TestExactHostDoesNotFallThrough(t *testing.T) {
	tb := mustNew(t, route("a.test", PathPrefix, "/only", backend("a")),
		route("", PathPrefix, "/", backend("any")))
	assert.Equal(t, "404", served(tb, "a.test", "/other"))
}

func TestCleanPathCannotEscapePrefix(t *testing.T) {
	tb := mustNew(t, route("a.test", PathPrefix, "/public", backend("public")),
		route("a.test", PathPrefix, "/admin", backend("admin")))
	for _, p := range []string{"/public/../admin", "/public/./../admin/x", "//admin", "/public/..//admin"} {
		assert.Equal(t, "admin", served(tb, "a.test", p), p)
	}
	assert.Equal(t, "public", served(tb, "a.test", "/admin/../../public/"))
}

func TestCleanPath(t *testing.T) {
	cases := map[string]string{
		"": "/", "/": "/", "/a/b/": "/a/b/", "//a//b": "/a/b", "/a/./b/..": "/a/",
		"/../..": "/", "/a/..": "/", "a/b": "/a/b", "/a/b/.": "/a/b/",
	}
	for in, want := range cases {
		assert.Equal(t, want, CleanPath(in), in)
	}
}

func TestMethodHeaderQueryMatches(t *testing.T) {
	get := route("a.test", PathPrefix, "/", backend("get"))
	get.Method = http.MethodGet
	hdr := route("a.test", PathPrefix, "/", backend("hdr"))
	hdr.Headers = []HeaderMatch{{Name: "x-env", Value: "canary"}}
	rx := route("a.test", PathPrefix, "/", backend("rx"))
	rx.Headers = []HeaderMatch{{Name: "X-Version", Type: MatchRegex, Value: "^v[23]$"}}
	q := route("a.test", PathPrefix, "/", backend("q"))
	q.Query = []QueryMatch{{Name: "a b", Value: "c&d"}}
	all := route("a.test", PathPrefix, "/", backend("all"))
	tb := mustNew(t, all, get, hdr, q, rx)

	do := func(method, target string, h map[string]string) string {
		r := httptest.NewRequest(method, target, nil)
		for k, v := range h {
			r.Header.Set(k, v)
		}
		rt := tb.Lookup("a.test", CleanPath(r.URL.Path), r)
		return rt.Action.Split.Main.Name
	}
	assert.Equal(t, "get", do("GET", "http://a.test/", nil))
	assert.Equal(t, "all", do("POST", "http://a.test/", nil))
	assert.Equal(t, "hdr", do("POST", "http://a.test/", map[string]string{"X-Env": "canary"}))
	assert.Equal(t, "rx", do("POST", "http://a.test/", map[string]string{"X-Version": "v3"}))
	assert.Equal(t, "all", do("POST", "http://a.test/", map[string]string{"X-Version": "v4"}))
	assert.Equal(t, "q", do("POST", "http://a.test/?x=1&a+b=c%26d", nil))
}

// TestCompareRoutesIsATotalOrder checks the precedence function over every
// pair of a varied route set: antisymmetric and transitive, so sorting is
// deterministic.
func TestCompareRoutesIsATotalOrder(t *testing.T) {
	var rs []*Route
	for i, p := range []string{"/", "/a", "/a/", "/ab", "/a/b"} {
		for _, pt := range []PathType{PathPrefix, PathExact, PathRegex} {
			for _, m := range []string{"", "GET"} {
				for nh := 0; nh < 2; nh++ {
					r := route("h", pt, p, backend("b"))
					r.Method = m
					r.Headers = make([]HeaderMatch, nh)
					r.Order = i
					rs = append(rs, r)
				}
			}
		}
	}
	for _, a := range rs {
		for _, b := range rs {
			assert.Equal(t, compareRoutes(a, b) < 0, compareRoutes(b, a) > 0)
			for _, c := range rs {
				if Less(a, b) && Less(b, c) {
					require.True(t, Less(a, c))
				}
			}
		}
	}
}

func TestPrecedenceRules(t *testing.T) {
	r := func(pt PathType, p string) *Route { return route("h", pt, p, backend("b")) }
	withMethod := r(PathPrefix, "/a")
	withMethod.Method = "GET"
	oneHeader := r(PathPrefix, "/a")
	oneHeader.Headers = []HeaderMatch{{Name: "x"}}
	twoHeaders := r(PathPrefix, "/a")
	twoHeaders.Headers = []HeaderMatch{{Name: "x"}, {Name: "y"}}
	oneQuery := r(PathPrefix, "/a")
	oneQuery.Query = []QueryMatch{{Name: "q"}}
	older, newer := r(PathPrefix, "/a"), r(PathPrefix, "/a")
	older.Order, newer.Order = 1, 2
	pairs := []struct {
		name         string
		first, after *Route
	}{
		{"exact over longer prefix", r(PathExact, "/a"), r(PathPrefix, "/a/b/c")},
		{"longer prefix", r(PathPrefix, "/a/b"), r(PathPrefix, "/a")},
		{"longer regex over shorter prefix", r(PathRegex, "/a.*x"), r(PathPrefix, "/a/b")},
		{"same length by string", r(PathPrefix, "/a"), r(PathPrefix, "/b")},
		{"prefix before regex of same string", r(PathPrefix, "/a"), r(PathRegex, "/a")},
		{"method match first", withMethod, r(PathPrefix, "/a")},
		{"more headers first", twoHeaders, oneHeader},
		{"headers before query", oneHeader, oneQuery},
		{"query before nothing", oneQuery, r(PathPrefix, "/a")},
		{"older first", older, newer},
	}
	for _, p := range pairs {
		assert.True(t, Less(p.first, p.after), p.name)
		assert.False(t, Less(p.after, p.first), p.name)
	}
}

func TestNewRejectsBadRoutes(t *testing.T) {
	_, err := New(1, []*Route{route("h", PathRegex, "/(", backend("b"))}, nil)
	assert.ErrorContains(t, err, "invalid regular expression")
	_, err = New(1, []*Route{route("h", PathPrefix, "nope", backend("b"))}, nil)
	assert.Error(t, err)
	_, err = New(1, []*Route{{Host: "h", Path: PathMatch{Value: "/"}}}, nil)
	assert.Error(t, err)
}

func TestBackendsAreIndexedOnce(t *testing.T) {
	shared := backend("shared")
	tb := mustNew(t, route("a", PathPrefix, "/", shared), route("b", PathPrefix, "/", shared),
		route("c", PathPrefix, "/", backend("other")))
	require.Equal(t, 2, tb.NumBackends())
	for i, b := range tb.Backends() {
		assert.Equal(t, i, b.Index())
	}
}

func TestQueryValue(t *testing.T) {
	v, ok := queryValue("a=1&b=2&b=3", "b")
	assert.True(t, ok)
	assert.Equal(t, "2", v)
	_, ok = queryValue("a=1", "b")
	assert.False(t, ok)
	v, ok = queryValue("flag", "flag")
	assert.True(t, ok)
	assert.Equal(t, "", v)
}

func TestDumpIsStable(t *testing.T) {
	mk := func() string {
		b := backend("ns/web:80")
		b.Endpoints = []Endpoint{{Address: "10.0.0.1:8080"}}
		c := &Canary{Backend: backend("ns/web-canary:80"), Header: "X-Canary", HeaderPattern: regexp.MustCompile("^a"), Weight: 10, WeightTotal: 100}
		rt := route("a.test", PathPrefix, "/", b)
		rt.Action.Split.Canary = c
		rt.Source = Source{Kind: "Ingress", Namespace: "ns", Name: "web"}
		return mustNew(t, rt, route("*.test", PathExact, "/x", b), route("", PathPrefix, "/", b)).Dump()
	}
	first := mk()
	for i := 0; i < 5; i++ {
		require.Equal(t, first, mk())
	}
	assert.Contains(t, first, "host a.test\n  prefix / from Ingress ns/web\n    main ns/web:80\n    canary ns/web-canary:80 header=X-Canary pattern=\"^a\" weight=10/100\n")
	assert.Contains(t, first, "backend ns/web:80 protocol=http balance=least_conn\n")
}

func TestWithEndpointsSharesAllButTheEndpoints(t *testing.T) {
	a, b := backend("a"), backend("b")
	a.Endpoints = []Endpoint{{Address: "10.0.0.1:80"}}
	b.Endpoints = []Endpoint{{Address: "10.0.1.1:80"}}
	tb := mustNew(t, route("a.test", PathPrefix, "/", a), route("b.test", PathPrefix, "/", b))
	next := tb.WithEndpoints(2, map[int][]Endpoint{a.Index(): {{Address: "10.0.0.2:80"}}})
	assert.Equal(t, uint64(2), next.Generation())
	assert.Same(t, tb, next.DerivedFrom())
	assert.Equal(t, []Endpoint{{Address: "10.0.0.2:80"}}, next.Endpoints(a))
	assert.Equal(t, []Endpoint{{Address: "10.0.1.1:80"}}, next.Endpoints(b))
	assert.Equal(t, []Endpoint{{Address: "10.0.0.1:80"}}, tb.Endpoints(a), "the old table is unchanged")
	assert.Same(t, tb.Lookup("a.test", "/", nil), next.Lookup("a.test", "/", nil), "routes are shared")
	assert.Contains(t, next.Dump(), "endpoint 10.0.0.2:8")
}
