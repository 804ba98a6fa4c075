package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"weir.dev/weir/controller/translate"
)

// recorder is a Publisher that keeps every result.
type recorder struct {
	mu      sync.Mutex
	results []*translate.Result
}

func (r *recorder) Publish(res *translate.Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.results = append(r.results, res)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.results)
}

func (r *recorder) last() *translate.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.results) == 0 {
		return nil
	}
	return r.results[len(r.results)-1]
}

func class() *networkingv1.IngressClass {
	return &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "weir"},
		Spec: networkingv1.IngressClassSpec{Controller: translate.DefaultControllerClass}}
}

func service(name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
}

func slice(svc string, addrs ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: svc + "-1", Namespace: "default", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}},
	}
	for _, a := range addrs {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{a}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	return s
}

func ingress(name, host, svc string, ann map[string]string) *networkingv1.Ingress {
	pt := networkingv1.PathTypePrefix
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Annotations: ann},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("weir"),
			Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{
				HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
					Path: "/", PathType: &pt,
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
						Name: svc, Port: networkingv1.ServiceBackendPort{Number: 80}}},
				}}}}}},
		},
	}
}

func start(t *testing.T, opts Options, objs ...runtime.Object) (*fake.Clientset, *recorder, *Controller) {
	t.Helper()
	client := fake.NewClientset(objs...)
	rec := &recorder{}
	if opts.HoldOff == 0 {
		opts.HoldOff = 20 * time.Millisecond
	}
	c, err := New(client, opts, rec, nil, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, c.Ready, 10*time.Second, 5*time.Millisecond)
	return client, rec, c
}

func dumpHas(t *testing.T, rec *recorder, want string) {
	t.Helper()
	require.Eventually(t, func() bool {
		res := rec.last()
		return res != nil && strings.Contains(res.Table.Dump(), want)
	}, 10*time.Second, 5*time.Millisecond, "no published table contains %q; last:\n%s", want, func() string {
		if res := rec.last(); res != nil {
			return res.Table.Dump()
		}
		return ""
	}())
}

func TestReadyOnlyAfterTheFirstTableFromSyncedCaches(t *testing.T) {
	_, rec, c := start(t, Options{}, class(), service("web"), slice("web", "10.0.0.1"), ingress("web", "a.test", "web", nil))
	assert.True(t, c.Ready())
	rec.mu.Lock()
	first := rec.results[0]
	rec.mu.Unlock()
	assert.Contains(t, first.Table.Dump(), "endpoint 10.0.0.1:8080", "the first table already holds the initial objects")
}

func TestEventSequenceReachesThePublishedTable(t *testing.T) {
	ctx := context.Background()
	client, rec, _ := start(t, Options{}, class(), service("web"), slice("web", "10.0.0.1"))
	_, err := client.NetworkingV1().Ingresses("default").Create(ctx, ingress("web", "a.test", "web", nil), metav1.CreateOptions{})
	require.NoError(t, err)
	dumpHas(t, rec, "host a.test")

	_, err = client.DiscoveryV1().EndpointSlices("default").Update(ctx, slice("web", "10.0.0.1", "10.0.0.2"), metav1.UpdateOptions{})
	require.NoError(t, err)
	dumpHas(t, rec, "endpoint 10.0.0.2:8080")

	canary := ingress("web-canary", "a.test", "web", map[string]string{
		"nginx.ingress.kubernetes.io/canary": "true", "nginx.ingress.kubernetes.io/canary-weight": "30"})
	_, err = client.NetworkingV1().Ingresses("default").Create(ctx, canary, metav1.CreateOptions{})
	require.NoError(t, err)
	dumpHas(t, rec, "weight=30/100")

	require.NoError(t, client.NetworkingV1().Ingresses("default").Delete(ctx, "web", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool { return !strings.Contains(rec.last().Table.Dump(), "host a.test") }, 10*time.Second, 5*time.Millisecond)
}

func TestBurstsCoalesce(t *testing.T) {
	ctx := context.Background()
	client, rec, _ := start(t, Options{HoldOff: 200 * time.Millisecond}, class(), service("web"))
	before := rec.count()
	for i := 0; i < 50; i++ {
		_, err := client.NetworkingV1().Ingresses("default").Create(ctx,
			ingress("ing-"+string(rune('a'+i%26))+string(rune('a'+i/26)), "h.test", "web", nil), metav1.CreateOptions{})
		require.NoError(t, err)
	}
	dumpHas(t, rec, "host h.test")
	time.Sleep(300 * time.Millisecond)
	// The exact count depends on how fast the creates arrive (slow under
	// -race on a busy machine); coalescing must still merge most of them.
	assert.Less(t, rec.count()-before, 25, "fifty creates are merged into a few rebuilds")
}

func TestProblemsBecomeOneEventEach(t *testing.T) {
	ctx := context.Background()
	bad := ingress("bad", "b.test", "missing", map[string]string{"nginx.ingress.kubernetes.io/canary-weight": "x"})
	client, rec, _ := start(t, Options{Events: true}, class(), bad)
	dumpHas(t, rec, "host b.test")
	reasons := func() map[string]int {
		evs, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		m := map[string]int{}
		for _, e := range evs.Items {
			if e.InvolvedObject.Name == "bad" {
				m[e.Reason] += int(e.Count)
			}
		}
		return m
	}
	require.Eventually(t, func() bool { return reasons()[translate.ReasonServiceNotFound] > 0 }, 10*time.Second, 10*time.Millisecond)
	// Unrelated rebuilds do not repeat the Events.
	for i := 0; i < 3; i++ {
		_, err := client.CoreV1().Services("default").Create(ctx, service("other-"+string(rune('a'+i))), metav1.CreateOptions{})
		require.NoError(t, err)
	}
	time.Sleep(200 * time.Millisecond)
	r := reasons()
	assert.Equal(t, 1, r[translate.ReasonServiceNotFound])
	assert.Equal(t, 1, r["CanaryAnnotationsWithoutCanary"])
}

func TestStatusIsWrittenByTheLeaderOnlyWhenItChanges(t *testing.T) {
	ctx := context.Background()
	ours := ingress("ours", "a.test", "web", nil)
	theirs := ingress("theirs", "b.test", "web", nil)
	theirs.Spec.IngressClassName = ptr.To("other")
	theirs.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "192.0.2.1"}}
	client, _, _ := start(t, Options{Status: &StatusOptions{PublishStatusAddress: "192.0.2.1,lb.example.com", ElectionID: "weir-test"}},
		class(), service("web"), ours, theirs)
	get := func(name string) []networkingv1.IngressLoadBalancerIngress {
		ing, err := client.NetworkingV1().Ingresses("default").Get(ctx, name, metav1.GetOptions{})
		require.NoError(t, err)
		return ing.Status.LoadBalancer.Ingress
	}
	require.Eventually(t, func() bool { return len(get("ours")) == 2 }, 20*time.Second, 20*time.Millisecond)
	assert.Equal(t, []networkingv1.IngressLoadBalancerIngress{{IP: "192.0.2.1"}, {Hostname: "lb.example.com"}}, get("ours"))
	assert.Len(t, get("theirs"), 1, "another controller's status (not ours exactly) is left alone")
	updates := 0
	for _, a := range client.Actions() {
		if a.GetVerb() == "update" && a.GetSubresource() == "status" {
			updates++
		}
	}
	assert.Equal(t, 1, updates, "one status write for one change")
}

func TestConstantChurnStillPublishes(t *testing.T) {
	ctx := context.Background()
	client, rec, _ := start(t, Options{HoldOff: 100 * time.Millisecond, MaxHoldOff: 300 * time.Millisecond}, class(), service("web"))
	before, began := rec.count(), time.Now()
	// An event every 20 ms for 1.2 s: rebuilds keep coming, but never
	// closer than HoldOff (holdoff.go).
	deadline := time.Now().Add(1200 * time.Millisecond)
	for i := 0; time.Now().Before(deadline); i++ {
		_, err := client.CoreV1().Services("default").Create(ctx, service(fmt.Sprintf("churn-%d", i)), metav1.CreateOptions{})
		require.NoError(t, err)
		time.Sleep(20 * time.Millisecond)
	}
	n := rec.count() - before
	assert.GreaterOrEqual(t, n, 2, "constant churn still publishes")
	assert.LessOrEqual(t, n, int(time.Since(began)/(100*time.Millisecond))+2, "at most one rebuild per HoldOff")
}

func TestEndpointOnlyChanges(t *testing.T) {
	ctx := context.Background()
	client, rec, _ := start(t, Options{}, class(), service("web"), slice("web", "10.0.0.1"), ingress("web", "a.test", "web", nil),
		service("unused"), slice("unused", "10.1.0.1"))
	dumpHas(t, rec, "endpoint 10.0.0.1:8080")
	time.Sleep(100 * time.Millisecond)
	before := rec.count()

	// A Service no route uses: nothing is published.
	_, err := client.DiscoveryV1().EndpointSlices("default").Update(ctx, slice("unused", "10.1.0.2"), metav1.UpdateOptions{})
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)
	assert.Equal(t, before, rec.count(), "an unused Service's endpoints publish nothing")

	// A used one: the fast path publishes exactly what a full build gives.
	_, err = client.DiscoveryV1().EndpointSlices("default").Update(ctx, slice("web", "10.0.0.1", "10.0.0.3"), metav1.UpdateOptions{})
	require.NoError(t, err)
	dumpHas(t, rec, "endpoint 10.0.0.3:8080")
	in := &translate.Inputs{
		Ingresses:      []*networkingv1.Ingress{ingress("web", "a.test", "web", nil)},
		IngressClasses: []*networkingv1.IngressClass{class()},
		Services:       []*corev1.Service{service("web"), service("unused")},
		EndpointSlices: []*discoveryv1.EndpointSlice{slice("web", "10.0.0.1", "10.0.0.3"), slice("unused", "10.1.0.2")},
	}
	last := rec.last()
	assert.Equal(t, translate.Translate(in, last.Table.Generation()).Table.Dump(), last.Table.Dump())

	// The last endpoint goes: problems change, so a full rebuild runs.
	_, err = client.DiscoveryV1().EndpointSlices("default").Update(ctx, slice("web"), metav1.UpdateOptions{})
	require.NoError(t, err)
	dumpHas(t, rec, "no endpoints")
	assert.Contains(t, translate.FormatProblems(rec.last().Problems), translate.ReasonNoReadyEndpoints)
}

func TestOnlyTheLeaderOfTwoReplicasWritesStatus(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(class(), service("web"), ingress("ours", "a.test", "web", nil))
	run := func(identity string) *Controller {
		c, err := New(client, Options{HoldOff: 10 * time.Millisecond, Status: &StatusOptions{
			PublishStatusAddress: "192.0.2.1", ElectionID: "weir-two", Identity: identity}}, &recorder{}, nil, nil)
		require.NoError(t, err)
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { c.Run(runCtx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		return c
	}
	a, b := run("replica-a"), run("replica-b")
	require.Eventually(t, func() bool { return a.Ready() && b.Ready() }, 10*time.Second, 10*time.Millisecond, "every replica serves")
	require.Eventually(t, func() bool {
		ing, err := client.NetworkingV1().Ingresses("default").Get(ctx, "ours", metav1.GetOptions{})
		return err == nil && len(ing.Status.LoadBalancer.Ingress) == 1
	}, 20*time.Second, 20*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	writes := 0
	for _, act := range client.Actions() {
		if act.GetVerb() == "update" && act.GetSubresource() == "status" {
			writes++
		}
	}
	assert.Equal(t, 1, writes, "one replica leads and writes once")
	lease, err := client.CoordinationV1().Leases("default").Get(ctx, "weir-two", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Contains(t, []string{"replica-a", "replica-b"}, *lease.Spec.HolderIdentity)
}

// panicky is a recorder whose next Publish panics when armed.
type panicky struct {
	recorder
	armed bool
}

func (p *panicky) Publish(res *translate.Result) {
	p.mu.Lock()
	armed := p.armed
	p.armed = false
	p.mu.Unlock()
	if armed {
		panic("publish failed")
	}
	p.recorder.Publish(res)
}

// A rebuild that panics (recovered: the last table stays in service) took
// the changes it was to apply; the next rebuild must still apply them. It
// translates everything: an endpoint-only refresh of the last table would
// leave them out for good.
func TestChangesOfAPanickedRebuildAreNotLost(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(class(), service("web"), slice("web", "10.0.0.1"), ingress("web", "a.test", "web", nil))
	pub := &panicky{}
	c, err := New(client, Options{HoldOff: 20 * time.Millisecond}, pub, nil, nil)
	require.NoError(t, err)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { c.Run(runCtx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	require.Eventually(t, c.Ready, 10*time.Second, 5*time.Millisecond)

	pub.mu.Lock()
	pub.armed = true
	pub.mu.Unlock()
	_, err = client.NetworkingV1().Ingresses("default").Create(ctx, ingress("b", "b.test", "web", nil), metav1.CreateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		pub.mu.Lock()
		defer pub.mu.Unlock()
		return !pub.armed
	}, 10*time.Second, 5*time.Millisecond, "the publish that panics was reached")

	_, err = client.DiscoveryV1().EndpointSlices("default").Update(ctx, slice("web", "10.0.0.1", "10.0.0.2"), metav1.UpdateOptions{})
	require.NoError(t, err)
	dumpHas(t, &pub.recorder, "endpoint 10.0.0.2:8080")
	assert.Contains(t, pub.last().Table.Dump(), "host b.test", "the Ingress whose rebuild panicked is served after the next one")
}
