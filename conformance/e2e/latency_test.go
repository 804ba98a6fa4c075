package e2e

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
)

var outDir = flag.String("e2e.out", "out", "directory for the suite's measurements (relative to the package)")

const latencyUpdates = 60

// TestUpdateLatency measures, over latencyUpdates updates, the time from an
// Ingress update (before the API call) to the first request through Weir
// that sees it: the Ingress's backend alternates between Services a and b,
// and a client polls every 2 ms. The figures are logged and written to
// out/update-latency.txt; they are not asserted, only that every update is
// seen within 30 s.
func TestUpdateLatency(t *testing.T) {
	ctx := ctxFor(t, 5*time.Minute)
	ns := namespace(t, ctx)
	host := "latency." + ns + ".test"
	echoApp(t, ctx, ns, "a", 1)
	echoApp(t, ctx, ns, "b", 1)
	createIngress(t, ctx, ingress(ns, "latency", host, "a", nil))
	c := client()
	waitServed(t, c, host, nil, "a")

	var samples []time.Duration
	for i := 0; i < latencyUpdates; i++ {
		target := "b"
		if i%2 == 1 {
			target = "a"
		}
		start := time.Now()
		updateIngress(t, ctx, ns, "latency", func(ing *networkingv1.Ingress) {
			ing.Spec.Rules[0].HTTP.Paths[0].Backend = backend(target, 80)
		})
		samples = append(samples, untilServed(t, host, target, start))
	}
	report(t, samples)
}

// untilServed polls host until target answers, and returns the time since
// start.
func untilServed(t *testing.T, host, target string, start time.Time) time.Duration {
	t.Helper()
	c := client()
	for time.Since(start) < 30*time.Second {
		e, err := get(c, host, "/", nil)
		if err == nil && e.Status == 200 && app(e.Pod) == target {
			return time.Since(start)
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("update to %s not seen within 30 s", target)
	return 0
}

func report(t *testing.T, samples []time.Duration) {
	sorted := append([]time.Duration(nil), samples...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	q := func(p float64) time.Duration { return sorted[int(p*float64(len(sorted)-1)+0.5)] }
	var b strings.Builder
	fmt.Fprintf(&b, "Ingress update -> first request through Weir that sees it (%d updates, polled every 2 ms)\n", len(sorted))
	fmt.Fprintf(&b, "min %v  p50 %v  p90 %v  p99 %v  max %v\n", sorted[0].Round(time.Millisecond),
		q(0.5).Round(time.Millisecond), q(0.9).Round(time.Millisecond), q(0.99).Round(time.Millisecond),
		sorted[len(sorted)-1].Round(time.Millisecond))
	fmt.Fprintf(&b, "samples (ms, in order):")
	for _, s := range samples {
		fmt.Fprintf(&b, " %d", s.Milliseconds())
	}
	b.WriteString("\n")
	t.Log(b.String())
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(*outDir, "update-latency.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("written to %s", path)
}
