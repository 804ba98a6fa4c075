package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/proxy/endpoint"
	"weir.dev/weir/proxy/table"
)

// gathered is every sample of reg by family name.
func gathered(t *testing.T, reg *prometheus.Registry) map[string][]*dto.Metric {
	t.Helper()
	fams, err := reg.Gather()
	require.NoError(t, err)
	out := map[string][]*dto.Metric{}
	for _, f := range fams {
		out[f.GetName()] = f.GetMetric()
	}
	return out
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// find returns the samples of a family whose labels include want.
func find(ms []*dto.Metric, want map[string]string) []*dto.Metric {
	var out []*dto.Metric
	for _, m := range ms {
		ls := labelsOf(m)
		ok := true
		for k, v := range want {
			if ls[k] != v {
				ok = false
			}
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

func sourcedRoute(host, kind, name string, be *table.Backend) *table.Route {
	return &table.Route{Host: host, Path: table.PathMatch{Type: table.PathPrefix, Value: "/"},
		Source: table.Source{Kind: kind, Namespace: "ns", Name: name}, Action: &table.Action{Split: table.Split{Main: be}}}
}

func publishedServer(t *testing.T, m *Metrics, reg *endpoint.Registry, routes ...*table.Route) *Server {
	t.Helper()
	s := New(Options{}, reg, m, nil)
	tb, err := table.New(1, routes, nil)
	require.NoError(t, err)
	s.Publish(tb)
	return s
}

func send(t *testing.T, s *Server, host string, status int) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "http://"+host+"/x", nil)
	s.ServeHTTP(rec, req)
	require.Equal(t, status, rec.Code)
}

// A series stays while some Server's table uses it, and goes with the last
// one: a route removed from one listener's table, then that listener closed.
func TestSeriesGoWithTheLastTableThatUsesThem(t *testing.T) {
	promReg := prometheus.NewRegistry()
	m := NewMetrics(promReg, MetricsOptions{PerHost: true})
	reg := endpoint.NewRegistry(endpoint.Options{})
	defer reg.Close()
	be := &table.Backend{Name: "ns/svc:80", Namespace: "ns", Service: "svc"}
	a := publishedServer(t, m, reg, sourcedRoute("a.test", "Ingress", "a", be), sourcedRoute("b.test", "Ingress", "b", be))
	b := publishedServer(t, m, reg, sourcedRoute("b.test", "Ingress", "b", be))
	send(t, a, "a.test", http.StatusServiceUnavailable)
	send(t, b, "b.test", http.StatusServiceUnavailable)
	g := gathered(t, promReg)
	require.Len(t, find(g["weir_requests_total"], map[string]string{"ingress": "a", "status": "503"}), 1)
	require.Len(t, find(g["weir_requests_total"], map[string]string{"ingress": "b", "status": "503"}), 1)
	require.Len(t, find(g["weir_backend_panic_total"], map[string]string{"service": "svc"}), 1, "at 0 from the start")

	tb, err := table.New(2, nil, nil)
	require.NoError(t, err)
	a.Publish(tb)
	g = gathered(t, promReg)
	require.Empty(t, find(g["weir_requests_total"], map[string]string{"ingress": "a"}), "no table uses a's route")
	require.Len(t, find(g["weir_requests_total"], map[string]string{"ingress": "b"}), 1, "b's table still uses it")

	b.Close()
	g = gathered(t, promReg)
	require.Empty(t, find(g["weir_requests_total"], map[string]string{"ingress": "b"}))
	require.Empty(t, g["weir_backend_panic_total"], "the backend is in no table")
	require.Len(t, g["weir_proxy_errors_total"], len(errorReasons), "every reason at 0 from the start")
}

// Without per-host series the hosts of one Ingress and Service share one.
func TestMetricsPerHostOff(t *testing.T) {
	promReg := prometheus.NewRegistry()
	m := NewMetrics(promReg, MetricsOptions{})
	reg := endpoint.NewRegistry(endpoint.Options{})
	defer reg.Close()
	be := &table.Backend{Name: "ns/svc:80", Namespace: "ns", Service: "svc"}
	s := publishedServer(t, m, reg, sourcedRoute("a.test", "Ingress", "web", be), sourcedRoute("b.test", "Ingress", "web", be))
	send(t, s, "a.test", http.StatusServiceUnavailable)
	send(t, s, "b.test", http.StatusServiceUnavailable)
	got := find(gathered(t, promReg)["weir_requests_total"], map[string]string{"ingress": "web"})
	require.Len(t, got, 1)
	require.Equal(t, "", labelsOf(got[0])["host"])
	require.Equal(t, 2.0, got[0].GetCounter().GetValue())
}

// The ingress-nginx families are views of the same cells: an Ingress and an
// HTTPRoute of one name (which ingress-nginx's labels cannot tell apart)
// add up instead of colliding, the counts agree with Weir's, and the
// upstream times are observed once per forwarded request.
func TestCompatFamiliesShareObservations(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) }))
	defer backend.Close()
	promReg := prometheus.NewRegistry()
	m := NewMetrics(promReg, MetricsOptions{PerHost: true, Compat: prometheus.Labels{"controller_pod": "p", "controller_class": "c", "controller_namespace": "n"}})
	reg := endpoint.NewRegistry(endpoint.Options{})
	defer reg.Close()
	be := &table.Backend{Name: "ns/svc:80", Namespace: "ns", Service: "svc",
		Endpoints: []table.Endpoint{{Address: strings.TrimPrefix(backend.URL, "http://")}}}
	s := publishedServer(t, m, reg, sourcedRoute("a.test", "Ingress", "web", be), sourcedRoute("b.test", "HTTPRoute", "web", be))
	send(t, s, "a.test", http.StatusOK)
	send(t, s, "a.test", http.StatusOK)
	send(t, s, "b.test", http.StatusOK)
	g := gathered(t, promReg)
	require.Len(t, find(g["weir_requests_total"], map[string]string{"ingress": "web"}), 2, "Weir keeps the kinds apart")
	compat := find(g["nginx_ingress_controller_requests"], map[string]string{"ingress": "web", "host": "a.test", "path": "/", "controller_pod": "p"})
	require.Len(t, compat, 1)
	require.Equal(t, 2.0, compat[0].GetCounter().GetValue())
	for _, name := range []string{"header_duration_seconds", "response_duration_seconds", "request_duration_seconds", "response_size"} {
		h := find(g["nginx_ingress_controller_"+name], map[string]string{"host": "a.test"})
		require.Len(t, h, 1, name)
		require.EqualValues(t, 2, h[0].GetHistogram().GetSampleCount(), name)
	}
	// The first request opened a connection; the second may have reused it.
	dials := find(g["nginx_ingress_controller_connect_duration_seconds"], map[string]string{"host": "a.test"})
	require.Len(t, dials, 1)
	require.GreaterOrEqual(t, dials[0].GetHistogram().GetSampleCount(), uint64(1))
	require.LessOrEqual(t, dials[0].GetHistogram().GetSampleCount(), uint64(2))
	size := find(g["weir_response_size_bytes"], map[string]string{"host": "b.test"})
	require.Len(t, size, 1)
	require.Equal(t, float64(len("hello")), size[0].GetHistogram().GetSampleSum())
}
