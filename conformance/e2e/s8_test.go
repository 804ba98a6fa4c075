package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestS8ChangeUnderLoad is issue 13's S8 on the local cluster: one Ingress
// change a second (S8_CHANGES, default 20; the scenario is 60) while
// requests run at a fixed rate (S8_RPS, default 200) and S8_INGRESSES
// other Ingresses (default 0; the scenario also uses 10000) are in the
// table. It reports the time from the API write to the first request
// served by the new route (untilServed, as TestUpdateLatency) in
// out/s8.txt and fails on any failed request; time is not asserted.
// Unlike TestUpdateLatency's back-to-back updates, changes here are a
// second apart, so each one is a lone change, not part of a burst.
func TestS8ChangeUnderLoad(t *testing.T) {
	changes, others, rps := s8Env(t, "S8_CHANGES", 20), s8Env(t, "S8_INGRESSES", 0), s8Env(t, "S8_RPS", 200)
	ctx := ctxFor(t, 10*time.Minute+time.Duration(changes+others/50)*time.Second)
	ns := namespace(t, ctx)
	host := "s8." + ns + ".test"
	echoApp(t, ctx, ns, "a", 1)
	echoApp(t, ctx, ns, "b", 1)
	for i := range others {
		createIngress(t, ctx, ingress(ns, fmt.Sprintf("other%d", i), fmt.Sprintf("h%d.%s.test", i, ns), "a", nil))
	}
	createIngress(t, ctx, ingress(ns, "s8", host, "a", nil))
	waitServed(t, client(), host, nil, "a")

	sent, failed, stop := s8Load(host, rps)
	api := env.cluster.Client.NetworkingV1().Ingresses(ns)
	// samples run from the start of the write (the Update call; the Get
	// before it is not counted) to the first request the new route served;
	// acks to the API server's answer to the write, whose duration is the
	// API server's and etcd's alone. Weir's share lies between served - ack
	// (Weir may see the change before the writer hears back) and served.
	var samples, acks, after []time.Duration
	var order, writes strings.Builder
	next := time.Now()
	for i := range changes {
		next = next.Add(time.Second)
		time.Sleep(time.Until(next))
		target := []string{"b", "a"}[i%2]
		var start time.Time
		for attempt := 0; ; attempt++ {
			// Weir's status writer may update the Ingress between the Get
			// and the Update: a conflict is read again and retried.
			ing, err := api.Get(ctx, "s8", metav1.GetOptions{})
			if err == nil {
				ing.Spec.Rules[0].HTTP.Paths[0].Backend = backend(target, 80)
				start = time.Now()
				_, err = api.Update(ctx, ing, metav1.UpdateOptions{})
			}
			if err == nil {
				break
			}
			if attempt == 5 || !apierrors.IsConflict(err) {
				t.Fatalf("updating Ingress s8: %v", err)
			}
		}
		ack := time.Since(start)
		served := untilServed(t, host, target, start)
		samples, acks, after = append(samples, served), append(acks, ack), append(after, max(served-ack, 0))
		fmt.Fprintf(&order, " %d", served.Milliseconds())
		fmt.Fprintf(&writes, "change %d written %s acknowledged after %v served after %v\n", i, start.UTC().Format(time.RFC3339Nano), ack, served)
		next = time.Now()
	}
	stop()
	q := func(d []time.Duration, p float64) time.Duration {
		d = slices.Clone(d)
		slices.Sort(d)
		return d[int(p*float64(len(d)-1)+0.5)].Round(time.Millisecond)
	}
	line := fmt.Sprintf("S8 weir (local cluster): %d changes 1 s apart, %d other Ingresses, %d req/s: API write -> first request served by the new route (polled every 2 ms): p50 %v p99 %v max %v; %d requests, %d failed\n",
		changes, others, rps, q(samples, 0.5), q(samples, 0.99), q(samples, 1), sent.Load(), failed.Load())
	line += fmt.Sprintf("of which the API server's answer to the write: p50 %v p99 %v; from that answer to the first request served: p50 %v p99 %v\n",
		q(acks, 0.5), q(acks, 0.99), q(after, 0.5), q(after, 0.99))
	line += "samples (ms, in order):" + order.String() + "\n"
	t.Log(line)
	if err := os.MkdirAll(*outDir, 0o755); err == nil {
		_ = os.WriteFile(filepath.Join(*outDir, "s8.txt"), []byte(line+writes.String()), 0o644)
		keepWeirLogs(t, "s8")
	}
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed during the changes", failed.Load(), sent.Load())
	}
}

// s8Load sends GETs for host at rps from 4 workers until stop is called;
// a failed request is a transport error or an answer other than 200.
func s8Load(host string, rps int) (sent, failed *atomic.Int64, stop func()) {
	const workers = 4
	sent, failed = new(atomic.Int64), new(atomic.Int64)
	done := make(chan struct{})
	var wg sync.WaitGroup
	c := client()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Second * workers / time.Duration(max(rps, 1)))
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
				}
				sent.Add(1)
				if e, err := get(c, host, "/", nil); err != nil || e.Status != 200 {
					failed.Add(1)
				}
			}
		}()
	}
	return sent, failed, func() { close(done); wg.Wait() }
}

func s8Env(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

// keepWeirLogs copies each Weir Pod's log to out/<prefix>-<pod>.log when
// E2E_KEEP_LOGS is set: with E2E_WEIR_ARGS=--log-level=debug they hold the
// controller's timestamps (change noted, table published) to set beside
// the test's API writes.
func keepWeirLogs(t *testing.T, prefix string) {
	if os.Getenv("E2E_KEEP_LOGS") == "" {
		return
	}
	for i := range env.weirs {
		b, err := os.ReadFile(env.cluster.PodLogPath(&env.weirs[i], "weir"))
		if err != nil {
			t.Logf("log of %s: %v", env.weirs[i].Name, err)
			continue
		}
		_ = os.WriteFile(filepath.Join(*outDir, prefix+"-"+env.weirs[i].Name+".log"), b, 0o644)
	}
}
