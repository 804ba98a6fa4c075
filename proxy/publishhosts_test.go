package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/proxy/endpoint"
	"weir.dev/weir/proxy/table"
)

// servedBy sends a request for host through s and returns the status and
// the name of the test backend that answered.
func servedBy(s *Server, host string) (int, string) {
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://"+host+"/x", nil))
	name, _, _ := strings.Cut(rec.Body.String(), " ")
	return rec.Code, name
}

func ingressRoute(host, name string, be *table.Backend) *table.Route {
	return &table.Route{Host: host, Path: table.PathMatch{Type: table.PathPrefix, Value: "/"},
		Source: table.Source{Kind: "Ingress", Namespace: "test", Name: name}, Action: &table.Action{Split: table.Split{Main: be}}}
}

// After a publish of a table that table.WithHosts derived, every route,
// kept and new, serves; a kept route's series carries on counting, a new
// route has its own, and the series and panic counters of what was removed
// go away, as after a full publish.
func TestPublishHostsServesEveryRouteAndMovesSeries(t *testing.T) {
	promReg := prometheus.NewRegistry()
	m := NewMetrics(promReg, MetricsOptions{PerHost: true})
	reg := endpoint.NewRegistry(endpoint.Options{})
	defer reg.Close()
	s := New(Options{}, reg, m, nil)
	defer s.Close()
	a, b, c := backendOf("a", named(t, "a")), backendOf("b", named(t, "b")), backendOf("c", named(t, "c"))
	old, err := table.New(1, []*table.Route{ingressRoute("a.test", "ing-a", a), ingressRoute("b.test", "ing-b", b)}, nil)
	require.NoError(t, err)
	s.Publish(old)
	for _, host := range []string{"a.test", "a.test", "b.test"} {
		code, _ := servedBy(s, host)
		require.Equal(t, http.StatusOK, code)
	}

	nt, err := old.WithHosts(2, []string{"b.test", "c.test"},
		[]*table.Route{ingressRoute("b.test", "ing-b2", c), ingressRoute("c.test", "ing-c", a)})
	require.NoError(t, err)
	s.PublishHosts(nt)
	require.Same(t, nt, s.Table())
	for host, want := range map[string]string{"a.test": "a", "b.test": "c", "c.test": "a"} {
		code, name := servedBy(s, host)
		require.Equal(t, http.StatusOK, code, host)
		require.Equal(t, want, name, host)
	}

	g := gathered(t, promReg)
	requests := func(ingress string) []float64 {
		var out []float64
		for _, s := range find(g["weir_requests_total"], map[string]string{"ingress": ingress}) {
			out = append(out, s.GetCounter().GetValue())
		}
		return out
	}
	assert.Equal(t, []float64{3}, requests("ing-a"), "the kept route's series carries on")
	assert.Empty(t, requests("ing-b"), "the removed route's series goes away")
	assert.Equal(t, []float64{1}, requests("ing-b2"))
	assert.Equal(t, []float64{1}, requests("ing-c"))
	assert.Len(t, find(g["weir_backend_panic_total"], map[string]string{"service": "c"}), 1)
	assert.Empty(t, find(g["weir_backend_panic_total"], map[string]string{"service": "b"}), "the removed backend's counter goes away")
	assert.Equal(t, 2.0, g["weir_table_generation"][0].GetGauge().GetValue())
}

// A table that is not derived from the one in service is published in full.
func TestPublishHostsOfAnotherTablePublishesInFull(t *testing.T) {
	reg := endpoint.NewRegistry(endpoint.Options{})
	defer reg.Close()
	s := New(Options{}, reg, nil, nil)
	defer s.Close()
	a := backendOf("a", named(t, "a"))
	base, err := table.New(1, []*table.Route{ingressRoute("a.test", "ing-a", a)}, nil)
	require.NoError(t, err)
	nt, err := base.WithHosts(2, []string{"b.test"}, []*table.Route{ingressRoute("b.test", "ing-b", backendOf("b", named(t, "b")))})
	require.NoError(t, err)
	s.PublishHosts(nt) // base was never published
	for host, want := range map[string]string{"a.test": "a", "b.test": "b"} {
		code, name := servedBy(s, host)
		require.Equal(t, http.StatusOK, code, host)
		require.Equal(t, want, name, host)
	}
}

// Requests running while hosts are replaced again and again see either
// table whole: the kept host always answers from its backend, the replaced
// one from the old or the new backend, never an error.
func TestPublishHostsUnderLoadLosesNoRequest(t *testing.T) {
	reg := endpoint.NewRegistry(endpoint.Options{})
	defer reg.Close()
	s := New(Options{}, reg, nil, nil)
	defer s.Close()
	a, x, y := backendOf("a", named(t, "a")), named(t, "x"), named(t, "y")
	cur, err := table.New(1, []*table.Route{ingressRoute("a.test", "ing-a", a), ingressRoute("b.test", "ing-b", backendOf("x", x))}, nil)
	require.NoError(t, err)
	s.Publish(cur)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for host, ok := range map[string]func(string) bool{
					"a.test": func(n string) bool { return n == "a" },
					"b.test": func(n string) bool { return n == "x" || n == "y" },
				} {
					if code, name := servedBy(s, host); code != http.StatusOK || !ok(name) {
						mu.Lock()
						bad = append(bad, host+" "+name)
						mu.Unlock()
					}
				}
			}
		}()
	}
	for i := range 50 {
		srv := []*httptest.Server{x, y}[i%2]
		next, err := cur.WithHosts(uint64(i+2), []string{"b.test"}, []*table.Route{ingressRoute("b.test", "ing-b", backendOf(srv.URL, srv))})
		require.NoError(t, err)
		s.PublishHosts(next)
		cur = next
	}
	close(stop)
	wg.Wait()
	require.Empty(t, bad)
	_, name := servedBy(s, "b.test")
	require.Equal(t, "y", name)
}
