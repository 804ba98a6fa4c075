package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scrape is /metrics as served, by sample name: the label sets of its
// samples.
type scrape map[string][]map[string]string

var labelPair = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

func scrapeMetrics(t *testing.T, reg *prometheus.Registry) (scrape, string) {
	t.Helper()
	cfg, err := parseFlags(nil)
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	metricsServer(cfg, reg, func() bool { return true }).Handler.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	out := scrape{}
	sc := bufio.NewScanner(strings.NewReader(rec.Body.String()))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		labels := map[string]string{}
		if i := strings.LastIndexByte(rest, '}'); i >= 0 {
			for _, m := range labelPair.FindAllStringSubmatch(rest[:i], -1) {
				labels[m[1]] = m[2]
			}
		}
		out[name] = append(out[name], labels)
	}
	return out, rec.Body.String()
}

// has reports whether some sample of name carries every label in want (a
// value of "" means any value).
func (s scrape) has(name string, want map[string]string) bool {
	for _, ls := range s[name] {
		ok := true
		for k, v := range want {
			got, present := ls[k]
			if !present || v != "" && got != v {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// metricsWorld is Weir in offline mode over a temporary directory, with its
// metrics registry and two endpoints of one Service.
type metricsWorld struct {
	dir      string
	reg      *prometheus.Registry
	plain    string
	backends [2]string // ports
}

func startMetricsWorld(t *testing.T, objects func(w *metricsWorld) string, flags ...string) *metricsWorld {
	t.Helper()
	w := &metricsWorld{dir: t.TempDir()}
	for i := range w.backends {
		be := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			io.WriteString(rw, "ok")
		}))
		t.Cleanup(be.Close)
		_, w.backends[i], _ = net.SplitHostPort(be.Listener.Addr().String())
	}
	w.write(t, objects(w))
	cfg, err := parseFlags(append([]string{"--manifests", w.dir}, flags...))
	require.NoError(t, err)
	w.reg, err = newRegistry(cfg)
	require.NoError(t, err)
	w.plain, _ = serveManifestsWith(t, w.dir, w.reg, flags...)
	return w
}

func (w *metricsWorld) write(t *testing.T, objects string) {
	t.Helper()
	tmp := filepath.Join(w.dir, ".tmp")
	require.NoError(t, os.WriteFile(tmp, []byte(objects), 0o600))
	require.NoError(t, os.Rename(tmp, filepath.Join(w.dir, "objects.yaml")))
}

// get sends a request for host to Weir and reads the answer.
func (w *metricsWorld) get(t *testing.T, host, path string, header ...string) int {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+w.plain+path, nil)
	require.NoError(t, err)
	req.Host = host
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func ingressYAML(name, host, annotations string) string {
	return fmt.Sprintf(`---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: %s, namespace: default, annotations: {%s}}
spec:
  ingressClassName: weir
  rules:
  - host: %s
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]}
`, name, annotations, host)
}

// appObjects is a Service whose endpoints are the world's backends (the
// second only when both is set), with active health checks.
func (w *metricsWorld) appObjects(both bool) string {
	s := `{"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "weir"}, "spec": {"controller": "weir.dev/ingress-controller"}}
---
{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "app", "namespace": "default"}, "spec": {"ports": [{"name": "http", "port": 80}]}}
`
	slice := `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: app-%d, namespace: default, labels: {kubernetes.io/service-name: app}}
addressType: IPv4
ports: [{name: http, port: %s, protocol: TCP}]
endpoints: [{addresses: ["127.0.0.1"], conditions: {ready: true}}]
`
	s += fmt.Sprintf(slice, 0, w.backends[0])
	if both {
		s += fmt.Sprintf(slice, 1, w.backends[1])
	}
	return s
}

const healthChecked = `weir.dev/health-check-path: /, weir.dev/health-check-interval: "1"`

// Series of an Ingress and of an endpoint that are gone leave /metrics, in
// Weir's families and in the ingress-nginx ones; the canary's series carry
// the canary Ingress's name.
func TestMetricsOfRemovedIngressesAndEndpointsGoAway(t *testing.T) {
	objects := func(w *metricsWorld, withGone bool) string {
		s := w.appObjects(withGone) + ingressYAML("app", "app.example.com", healthChecked) +
			ingressYAML("app-canary", "app.example.com", `nginx.ingress.kubernetes.io/canary: "true", nginx.ingress.kubernetes.io/canary-by-header: X-Canary`)
		if withGone {
			s += ingressYAML("gone", "gone.example.com", healthChecked)
		}
		return s
	}
	w := startMetricsWorld(t, func(w *metricsWorld) string { return objects(w, true) }, "--metrics-compat=ingress-nginx")
	second := "127.0.0.1:" + w.backends[1]

	require.Equal(t, http.StatusOK, w.get(t, "app.example.com", "/"))
	require.Equal(t, http.StatusOK, w.get(t, "app.example.com", "/", "X-Canary", "always"))
	require.Equal(t, http.StatusOK, w.get(t, "gone.example.com", "/"))
	require.Eventually(t, func() bool {
		s, _ := scrapeMetrics(t, w.reg)
		return s.has("weir_endpoint_healthy", map[string]string{"endpoint": second})
	}, 30*time.Second, 50*time.Millisecond, "the second endpoint is checked")
	s, _ := scrapeMetrics(t, w.reg)
	for _, name := range []string{"weir_requests_total", "nginx_ingress_controller_requests"} {
		require.True(t, s.has(name, map[string]string{"ingress": "gone"}), name)
		require.True(t, s.has(name, map[string]string{"ingress": "app", "canary": "false"}), name)
		require.True(t, s.has(name, map[string]string{"ingress": "app-canary", "canary": "true"}), name)
	}

	w.write(t, objects(w, false))
	assert.Eventually(t, func() bool {
		_, text := scrapeMetrics(t, w.reg)
		return !strings.Contains(text, `ingress="gone"`) && !strings.Contains(text, `endpoint="`+second+`"`)
	}, 30*time.Second, 50*time.Millisecond, "series of the removed Ingress and endpoint leave /metrics")
	if t.Failed() {
		_, text := scrapeMetrics(t, w.reg)
		for _, l := range strings.Split(text, "\n") {
			if strings.Contains(l, `ingress="gone"`) || strings.Contains(l, "endpoint=") {
				t.Log(l)
			}
		}
	}
	s, _ = scrapeMetrics(t, w.reg)
	require.True(t, s.has("weir_requests_total", map[string]string{"ingress": "app"}), "the remaining Ingress keeps its series")
	require.True(t, s.has("weir_endpoint_healthy", map[string]string{"endpoint": "127.0.0.1:" + w.backends[0]}))
}

// With --profiling, profiles are served to loopback clients only (kubectl
// port-forward); the metrics port's other clients, the cluster network's,
// get 403.
func TestProfilesOnlyForLoopbackClients(t *testing.T) {
	cfg, err := parseFlags([]string{"--profiling"})
	require.NoError(t, err)
	h := metricsServer(cfg, prometheus.NewRegistry(), func() bool { return true }).Handler
	for addr, want := range map[string]int{"10.0.0.5:4000": 403, "[2001:db8::5]:4000": 403, "127.0.0.1:4000": 200, "[::1]:4000": 200} {
		r := httptest.NewRequest("GET", "/debug/pprof/", nil)
		r.RemoteAddr = addr
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		assert.Equal(t, want, rec.Code, addr)
	}
}
