package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

// A world with traffic through a canary and a TLS host, health checks and
// --metrics-compat, so that every family a dashboard or alert reads has
// samples.
func monitoredWorld(t *testing.T) scrape {
	t.Helper()
	cert, key, _ := testCert(t, "app.example.com", "app.example.com")
	w := startMetricsWorld(t, func(w *metricsWorld) string {
		tls := strings.Replace(ingressYAML("app", "app.example.com", healthChecked), "  rules:",
			"  tls: [{hosts: [app.example.com], secretName: app-tls}]\n  rules:", 1)
		return w.appObjects(true) + tls + secretYAML("app-tls", cert, key) +
			ingressYAML("app-canary", "app.example.com", `nginx.ingress.kubernetes.io/canary: "true", nginx.ingress.kubernetes.io/canary-weight: "50"`) +
			ingressYAML("broken", "broken.example.com", `nginx.ingress.kubernetes.io/proxy-body-size: "lots"`) // a problem
	}, "--metrics-compat=ingress-nginx")
	for range 4 {
		w.get(t, "app.example.com", "/") // 308 to HTTPS: answered by Weir
	}
	for range 4 {
		w.get(t, "broken.example.com", "/") // forwarded
	}
	var s scrape
	require.Eventually(t, func() bool {
		s, _ = scrapeMetrics(t, w.reg)
		return s.has("weir_endpoint_healthy", nil) && s.has("weir_ssl_certificate_expiry_seconds", nil)
	}, 30*time.Second, 50*time.Millisecond)
	require.True(t, s.has("weir_controller_problems", nil))
	require.True(t, s.has("nginx_ingress_controller_requests", map[string]string{"ingress": "broken", "status": "200", "path": "/"}))
	require.True(t, s.has("nginx_ingress_controller_requests", map[string]string{"ingress": "app", "status": "308"}))
	return s
}

// The metric and label names ingress-nginx's own Grafana dashboards query
// (testdata/ingress-nginx-dashboard-metrics.txt) are all in /metrics with
// --metrics-compat=ingress-nginx, after some traffic.
func TestIngressNginxDashboardsFindTheirMetrics(t *testing.T) {
	s := monitoredWorld(t)
	f, err := os.Open("testdata/ingress-nginx-dashboard-metrics.txt")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		n++
		want := map[string]string{}
		for _, l := range fields[1:] {
			want[l] = ""
		}
		assert.True(t, s.has(fields[0], want), "%s with labels %v", fields[0], fields[1:])
	}
	require.Greater(t, n, 15, "the list was read")
}

// targetLabels are added by Prometheus when it scrapes (ServiceMonitor);
// exported_X is a metric's own label X renamed because the target has an X.
var targetLabels = map[string]bool{"pod": true, "job": true, "instance": true}

var (
	metricRef  = regexp.MustCompile(`\b((?:weir|process)_[a-z0-9_]+)\b(\{[^}]*\})?`)
	byClause   = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	labelMatch = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)`)
)

// checkQuery reports the metric and label names in expr that /metrics
// does not have. Without a PromQL parser in the module (Prometheus's is a
// heavy dependency) it checks names and balanced brackets only.
func checkQuery(s scrape, expr string) []string {
	var bad []string
	for _, pair := range []string{"()", "{}", "[]"} {
		if strings.Count(expr, pair[:1]) != strings.Count(expr, pair[1:]) {
			bad = append(bad, "unbalanced "+pair)
		}
	}
	var names []string
	for _, m := range metricRef.FindAllStringSubmatch(expr, -1) {
		names = append(names, m[1])
		if _, ok := s[m[1]]; !ok {
			bad = append(bad, "metric "+m[1])
			continue
		}
		for _, lm := range labelMatch.FindAllStringSubmatch(m[2], -1) {
			if !hasLabel(s, []string{m[1]}, lm[1]) {
				bad = append(bad, fmt.Sprintf("label %s of %s", lm[1], m[1]))
			}
		}
	}
	for _, m := range byClause.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !hasLabel(s, names, l) {
				bad = append(bad, fmt.Sprintf("label %s of %v", l, names))
			}
		}
	}
	return bad
}

func hasLabel(s scrape, metrics []string, label string) bool {
	if targetLabels[label] {
		return true
	}
	label = strings.TrimPrefix(label, "exported_")
	for _, name := range metrics {
		if s.has(name, map[string]string{label: ""}) {
			return true
		}
	}
	return false
}

// Weir's own dashboard and alerts (deploy/monitoring) query only metrics
// and labels /metrics has.
func TestMonitoringQueriesFindTheirMetrics(t *testing.T) {
	s := monitoredWorld(t)
	var exprs []string
	raw, err := os.ReadFile("../../deploy/monitoring/weir.json")
	require.NoError(t, err)
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
		Templating struct {
			List []struct{ Query json.RawMessage }
		}
	}
	require.NoError(t, json.Unmarshal(raw, &dash))
	for _, p := range dash.Panels {
		require.NotEmpty(t, p.Targets, p.Title)
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		var q struct{ Query string }
		if json.Unmarshal(v.Query, &q) == nil && q.Query != "" {
			exprs = append(exprs, q.Query)
		}
	}
	raw, err = os.ReadFile("../../deploy/monitoring/prometheusrule.yaml")
	require.NoError(t, err)
	var rule struct {
		Spec struct {
			Groups []struct {
				Rules []struct{ Alert, Expr string }
			}
		}
	}
	require.NoError(t, yaml.Unmarshal(raw, &rule))
	alerts := map[string]bool{}
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			exprs = append(exprs, r.Expr)
		}
	}
	for _, a := range []string{"WeirHigh5xxRatio", "WeirBackendWithoutEndpoints", "WeirTableBuildFailing", "WeirCertificateExpiresSoon", "WeirConfigurationProblems"} {
		assert.True(t, alerts[a], "alert %s", a)
	}
	require.Greater(t, len(exprs), 20)
	for _, e := range exprs {
		assert.Empty(t, checkQuery(s, e), e)
	}
}

// checkQuery itself finds what is missing.
func TestCheckQueryFindsUnknownNames(t *testing.T) {
	s := scrape{"weir_requests_total": {{"ingress": "a", "status": "200"}}}
	assert.Equal(t, []string{"label exported_namespace of [weir_requests_total]"},
		checkQuery(s, `sum by (exported_namespace, ingress) (rate(weir_requests_total{ingress="a"}[5m]))`))
	assert.Equal(t, []string{"metric weir_nope"}, checkQuery(s, `rate(weir_nope[5m])`))
	assert.Equal(t, []string{"label route of weir_requests_total"}, checkQuery(s, `weir_requests_total{route="x"}`))
	assert.Equal(t, []string{"unbalanced ()"}, checkQuery(s, `sum(weir_requests_total`))
}

// docs/metrics.md names every family Weir exports, its own and the
// ingress-nginx ones.
func TestMetricsDocListsEveryFamily(t *testing.T) {
	s := monitoredWorld(t)
	doc, err := os.ReadFile("../../docs/metrics.md")
	require.NoError(t, err)
	seen := map[string]bool{}
	for name := range s {
		if !strings.HasPrefix(name, "weir_") && !strings.HasPrefix(name, "nginx_ingress_controller_") {
			continue
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && s[base+"_bucket"] != nil {
				name = base
			}
		}
		if seen[name] || strings.HasPrefix(name, "nginx_ingress_controller_nginx_process_") {
			continue // the process families are documented as a group
		}
		seen[name] = true
		assert.Contains(t, string(doc), "`"+name+"`", "docs/metrics.md lists %s", name)
	}
	require.Greater(t, len(seen), 30)
}
