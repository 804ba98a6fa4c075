package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"weir.dev/weir/controller"
	"weir.dev/weir/controller/translate"
	"weir.dev/weir/proxy"
)

// S8, a configuration change under load (issue 13), with the controller's
// real informers on client-go's fake clientset: one Ingress change per
// second while a fixed rate of requests runs, the time from the API write
// to the first request the new route serves (p50, p99), and no failed
// request. Environment: S8_CHANGES (default 10; the scenario is 60),
// S8_INGRESSES (other Ingresses in the table, default 100; the scenario
// is also run at 10000), S8_RPS (background requests per second, default
// 400). The API server's and etcd's share of the delay is not here: the
// local cluster's TestUpdateLatency (conformance/e2e) measures that.
// Nothing is asserted about time; failures are.
func TestS8ChangeUnderLoad(t *testing.T) {
	changes, others, rps := envInt(t, "S8_CHANGES", 10), envInt(t, "S8_INGRESSES", 100), envInt(t, "S8_RPS", 400)
	s := newStack(t)
	s.service("a", named(t, "a"))
	s.service("b", named(t, "b"))
	client := fake.NewClientset()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, o := range s.base {
		create(t, ctx, client, o)
	}
	create(t, ctx, client, ingress("s8", "s8.test", "a", nil))
	create(t, ctx, client, ingress("steady", "steady.test", "b", nil))
	for i := range others {
		create(t, ctx, client, ingress(fmt.Sprintf("other%d", i), fmt.Sprintf("h%d.other.test", i), "a", nil))
	}
	log := zap.NewNop()
	if os.Getenv("S8_DEBUG") != "" { // the controller's timestamps: change noted, table published
		log = zaptest.NewLogger(t, zaptest.Level(zap.DebugLevel))
	}
	ctl, err := controller.New(client, controller.Options{}, publisher{s.srv}, log, nil)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- ctl.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, func() bool { return s.backendOf("s8.test") == "a" }, 60*time.Second, 10*time.Millisecond)

	load := s.startLoad(rps, "s8.test", "steady.test")
	samples := make([]time.Duration, 0, changes)
	next := time.Now()
	for i := range changes {
		next = next.Add(time.Second)
		time.Sleep(time.Until(next))
		target := []string{"b", "a"}[i%2]
		start := time.Now()
		if log.Core().Enabled(zap.DebugLevel) {
			log.Debug("S8 write", zap.Int("change", i), zap.Time("at", start))
		}
		ing, err := client.NetworkingV1().Ingresses(ns).Get(ctx, "s8", metav1.GetOptions{})
		require.NoError(t, err)
		ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name = target
		_, err = client.NetworkingV1().Ingresses(ns).Update(ctx, ing, metav1.UpdateOptions{})
		require.NoError(t, err)
		deadline := start.Add(30 * time.Second)
		for s.backendOf("s8.test") != target {
			require.True(t, time.Now().Before(deadline), "change %d to %s not served within 30 s", i, target)
			time.Sleep(time.Millisecond)
		}
		samples = append(samples, time.Since(start))
		if log.Core().Enabled(zap.DebugLevel) {
			log.Debug("S8 served", zap.Int("change", i), zap.Duration("after", samples[len(samples)-1]))
		}
	}
	sent, failed := load.stop()
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	q := func(p float64) time.Duration { return samples[int(p*float64(len(samples)-1)+0.5)] }
	t.Logf("S8 weir (fake API): %d changes, %d other Ingresses, %d req/s: API write -> first request served by the new route: p50 %.1f ms, p99 %.1f ms, max %.1f ms; %d requests, %d failed",
		changes, others, rps, ms(q(0.5)), ms(q(0.99)), ms(samples[len(samples)-1]), sent, failed)
	require.Zero(t, failed, "requests failed during the changes")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	require.NoError(t, err, name)
	return n
}

// publisher puts the controller's tables in service, as cmd/weir does for
// the Ingress side.
type publisher struct{ srv *proxy.Server }

func (p publisher) Publish(res *translate.Result) {
	switch {
	case res.Table == nil:
	case res.EndpointsOnly != nil:
		p.srv.PublishEndpoints(res.Table, res.EndpointsOnly)
	case res.HostsChanged != nil:
		p.srv.PublishHosts(res.Table) // as cmd/weir's publisher
	default:
		p.srv.Publish(res.Table)
	}
}

// backendOf is the backend that answers a GET for host now ("" on error).
func (s *stack) backendOf(host string) string {
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.addr+"/", nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	resp.Body.Close()
	return resp.Header.Get("X-Backend")
}

// load sends requests at a fixed rate until stopped, counting failures:
// transport errors and answers other than 200 from a or b.
type load struct {
	stopc        chan struct{}
	wg           sync.WaitGroup
	sent, failed atomic.Int64
}

func (s *stack) startLoad(rps int, hosts ...string) *load {
	l := &load{stopc: make(chan struct{})}
	const workers = 4
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	for w := range workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			tick := time.NewTicker(time.Second * workers / time.Duration(max(rps, 1)))
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-l.stopc:
					return
				case <-tick.C:
				}
				req, _ := http.NewRequest(http.MethodGet, "http://"+s.addr+"/", nil)
				req.Host = hosts[(w+i)%len(hosts)]
				l.sent.Add(1)
				resp, err := c.Do(req)
				if err != nil {
					l.failed.Add(1)
					continue
				}
				resp.Body.Close()
				if b := resp.Header.Get("X-Backend"); resp.StatusCode != 200 || (b != "a" && b != "b") {
					l.failed.Add(1)
				}
			}
		}()
	}
	return l
}

func (l *load) stop() (sent, failed int64) {
	close(l.stopc)
	l.wg.Wait()
	return l.sent.Load(), l.failed.Load()
}

// create stores o in the fake API.
func create(t *testing.T, ctx context.Context, c *fake.Clientset, o any) {
	t.Helper()
	var err error
	switch o := o.(type) {
	case *networkingv1.IngressClass:
		_, err = c.NetworkingV1().IngressClasses().Create(ctx, o, metav1.CreateOptions{})
	case *networkingv1.Ingress:
		_, err = c.NetworkingV1().Ingresses(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *corev1.Service:
		_, err = c.CoreV1().Services(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *discoveryv1.EndpointSlice:
		_, err = c.DiscoveryV1().EndpointSlices(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	default:
		err = fmt.Errorf("unexpected %T", o)
	}
	require.NoError(t, err)
}
