package controller

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/controller/translate"
	"weir.dev/weir/proxy/table"
	weirtls "weir.dev/weir/tls"
)

// Certificate expiry follows the certificates in service; a failed build
// shows in the timestamps and in ingress-nginx's last-reload gauge.
func TestBuildAndCertificateMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg, prometheus.Labels{"controller_pod": "p", "controller_class": "c", "controller_namespace": "n"})
	require.Equal(t, 0.0, value(t, m.failures), "at 0 from the start")
	cert, err := weirtls.SelfSigned(time.Now())
	require.NoError(t, err)
	tb, err := table.New(1, nil, nil)
	require.NoError(t, err)
	res := &translate.Result{Table: tb, Certificates: map[string]*weirtls.Certificate{"a.test": cert},
		CertificateSecrets: map[string]translate.ObjectRef{"a.test": {Kind: "Secret", Namespace: "ns", Name: "tls-a"}}}
	t0 := time.Unix(1_800_000_000, 0)
	m.published(res, 1, t0, "")
	require.Equal(t, float64(cert.NotAfter().Unix()), value(t, m.certExpiry.vec.WithLabelValues("ns", "tls-a", "a.test")))
	require.Equal(t, float64(t0.Unix()), value(t, m.lastSuccess))
	require.Equal(t, 1.0, value(t, m.compat.lastOK))
	require.Equal(t, 1, count(m.compat.sslExpireTime.vec))

	m.failed(t0.Add(time.Minute))
	require.Equal(t, float64(t0.Add(time.Minute).Unix()), value(t, m.lastFailure))
	require.Equal(t, 0.0, value(t, m.compat.lastOK))
	require.Equal(t, 1.0, value(t, m.compat.reloadErrors))

	gw := &translate.Result{Table: tb, GatewayListeners: []*translate.GatewayListener{{DefaultCertificate: cert,
		Certificates:       map[string]*weirtls.Certificate{"g.test": cert},
		CertificateSecrets: map[string]translate.ObjectRef{"": {Namespace: "gw", Name: "any"}, "g.test": {Namespace: "gw", Name: "g"}}}}}
	m.published(gw, 2, t0.Add(2*time.Minute), "")
	require.Equal(t, float64(cert.NotAfter().Unix()), value(t, m.certExpiry.vec.WithLabelValues("gw", "g", "g.test")), "a Gateway listener's")
	require.Equal(t, 2, count(m.certExpiry.vec), "the Ingress's certificate left with it")
	require.Equal(t, 1, count(m.compat.sslExpireTime.vec), "hosts only")

	m.published(&translate.Result{Table: tb}, 3, t0.Add(3*time.Minute), "")
	require.Equal(t, 0, count(m.certExpiry.vec))
	require.Equal(t, 0, count(m.compat.sslExpireTime.vec))
	require.Equal(t, 1.0, value(t, m.compat.lastOK))
}

// value reads a gauge or counter.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	require.NoError(t, m.Write(&d))
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// count is the number of series c exports.
func count(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 64)
	c.Collect(ch)
	close(ch)
	return len(ch)
}

// Problem counts are replaced, not reset and refilled: a problem that stays
// keeps its series with the new count, one that is fixed loses its series.
func TestProblemMetricsAreReplacedAsAWhole(t *testing.T) {
	m := newMetrics(prometheus.NewRegistry(), nil)
	ing := func(ns string) translate.ObjectRef {
		return translate.ObjectRef{Kind: "Ingress", Namespace: ns, Name: "x"}
	}
	m.setProblems([]translate.Problem{{Object: ing("a"), Reason: "InvalidAnnotation"},
		{Object: ing("a"), Reason: "InvalidAnnotation"}, {Object: ing("b"), Reason: "ServiceNotFound"}})
	require.Equal(t, 2.0, value(t, m.problems.vec.WithLabelValues("InvalidAnnotation", "Ingress", "a")))
	require.Equal(t, 2, count(m.problems.vec))

	m.setProblems([]translate.Problem{{Object: ing("a"), Reason: "InvalidAnnotation"}})
	require.Equal(t, 1, count(m.problems.vec), "the fixed problem's series went away")
	require.Equal(t, 1.0, value(t, m.problems.vec.WithLabelValues("InvalidAnnotation", "Ingress", "a")))
}
