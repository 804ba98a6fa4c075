package e2e

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"weir.dev/weir/conformance/weirdeploy"
)

// The Gateway API through Weir on the local cluster. The suite's Weir runs
// without the Gateway API CRDs; the first test here installs them (the
// standard channel, deploy/gateway-api) and Weir starts watching them
// without a restart. Each Gateway gets a LoadBalancer Service from Weir;
// a test reaches a Gateway at its status address when the cluster's load
// balancer gave one, else at a Weir Pod's address and the container port
// Weir recorded in the Service for the listener.

var installGatewayAPI sync.Once

// gatewayAPI installs the CRDs and the GatewayClass once and returns a
// Gateway API client.
func gatewayAPI(t *testing.T, ctx context.Context) gatewayclient.Interface {
	t.Helper()
	installGatewayAPI.Do(func() {
		root, err := weirdeploy.RepoRoot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"standard-install.yaml", "gatewayclass.yaml"} {
			b, err := os.ReadFile(filepath.Join(root, "deploy", "gateway-api", f))
			if err != nil {
				t.Fatal(err)
			}
			if err := applyRetrying(ctx, b); err != nil {
				t.Fatalf("applying deploy/gateway-api/%s: %v", f, err)
			}
		}
	})
	gc, err := gatewayclient.NewForConfig(env.cluster.Config)
	if err != nil {
		t.Fatal(err)
	}
	return gc
}

// applyRetrying applies YAML until it succeeds (a GatewayClass needs its
// CRD established first) or 60 s pass.
func applyRetrying(ctx context.Context, b []byte) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := env.cluster.ApplyYAML(ctx, b, "")
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func httpGateway(ns, name string) *gatewayv1.Gateway {
	return &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: "weir", Listeners: []gatewayv1.Listener{
			{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}}}
}

// route sends everything arriving at gateway to the weighted backends
// (Service name -> weight), all on port 80.
func route(ns, name, gateway string, backends ...any) *gatewayv1.HTTPRoute {
	r := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	r.Spec.ParentRefs = []gatewayv1.ParentReference{{Name: gatewayv1.ObjectName(gateway)}}
	rule := gatewayv1.HTTPRouteRule{}
	for i := 0; i+1 < len(backends); i += 2 {
		port := gatewayv1.PortNumber(80)
		w := int32(backends[i+1].(int))
		rule.BackendRefs = append(rule.BackendRefs, gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
			BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(backends[i].(string)), Port: &port},
			Weight:                 &w}})
	}
	r.Spec.Rules = []gatewayv1.HTTPRouteRule{rule}
	return r
}

// gatewayURLs are where the Gateway's port-80 listener answers: its status
// address (the cluster's load balancer) if it has one, then each Weir
// Pod's address with the container port of the listener in the Gateway's
// Service (every replica serves every Gateway).
func gatewayURLs(t *testing.T, ctx context.Context, gc gatewayclient.Interface, ns, name string) []string {
	t.Helper()
	svcName := "weir-" + ns + "-" + name
	var target int32
	var err error
	deadline := time.Now().Add(90 * time.Second)
	for target == 0 {
		var svc *corev1.Service
		if svc, err = env.cluster.Client.CoreV1().Services(weirdeploy.Namespace).Get(ctx, svcName, metav1.GetOptions{}); err == nil {
			target = portOf(svc, 80)
		}
		if target == 0 && time.Now().After(deadline) {
			t.Fatalf("Weir made no Service %s/%s with a container port for Gateway %s/%s port 80 within 90s (last error %v)",
				weirdeploy.Namespace, svcName, ns, name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var urls []string
	// The load balancer, if the cluster has one, answers within seconds.
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && urls == nil; time.Sleep(200 * time.Millisecond) {
		gw, err := gc.GatewayV1().Gateways(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && len(gw.Status.Addresses) > 0 {
			urls = append(urls, "http://"+net.JoinHostPort(gw.Status.Addresses[0].Value, "80"))
		}
	}
	if urls == nil {
		t.Logf("Gateway %s/%s has no load-balancer address; using the Weir Pods and container port %d", ns, name, target)
	}
	for _, p := range env.weirs {
		urls = append(urls, "http://"+net.JoinHostPort(p.Status.PodIP, strconv.Itoa(int(target))))
	}
	return urls
}

func portOf(svc *corev1.Service, port int32) int32 {
	for _, p := range svc.Spec.Ports {
		if p.Port == port && p.TargetPort.Type == intstr.Int {
			return p.TargetPort.IntVal
		}
	}
	return 0
}

// backendAt GETs base/ with host and returns the answering Deployment (""
// for anything but an echo answer).
func backendAt(c *http.Client, base, host string) string {
	e, err := getFrom(c, base, host, "/", nil)
	if err != nil || e.Status != http.StatusOK {
		return ""
	}
	return app(e.Pod)
}

func tallyAt(c *http.Client, base, host string, n int) map[string]int {
	got := map[string]int{}
	for i := 0; i < n; i++ {
		got[backendAt(c, base, host)]++
	}
	return got
}

// waitShare waits (60 s at most) until 200 requests to each of urls give
// backend a share on the right side of 50 %: the change has reached every
// replica.
func waitShare(t *testing.T, c *http.Client, urls []string, host, backend string, above bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, base := range urls {
		for {
			got := tallyAt(c, base, host, 200)
			if got[""] == 0 && (got[backend] > 100) == above {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the split did not move within 60s; last 200 requests: %v", base, got)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// A Gateway and an HTTPRoute with an 80/20 split reach traffic, and the
// split moves when the weights change.
func TestGatewayWeightedSplit(t *testing.T) {
	ctx := ctxFor(t, 5*time.Minute)
	gc := gatewayAPI(t, ctx)
	ns := namespace(t, ctx)
	echoApp(t, ctx, ns, "blue", 1)
	echoApp(t, ctx, ns, "green", 1)
	if _, err := gc.GatewayV1().Gateways(ns).Create(ctx, httpGateway(ns, "web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	routes := gc.GatewayV1().HTTPRoutes(ns)
	if _, err := routes.Create(ctx, route(ns, "split", "web", "blue", 80, "green", 20), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	urls := gatewayURLs(t, ctx, gc, ns, "web")
	waitGatewayProgrammed(t, ctx, gc, ns, "web", len(urls) > len(env.weirs))
	c := client()
	waitShare(t, c, urls, "app.test", "blue", true)
	checkShare(t, c, urls[0], "green", 20)
	waitRouteAccepted(t, ctx, gc, ns, "split")

	for i := 0; ; i++ {
		r, err := routes.Get(ctx, "split", metav1.GetOptions{})
		if err == nil {
			*r.Spec.Rules[0].BackendRefs[0].Weight, *r.Spec.Rules[0].BackendRefs[1].Weight = 20, 80
			_, err = routes.Update(ctx, r, metav1.UpdateOptions{})
		}
		if err == nil {
			break
		}
		if i == 5 {
			t.Fatalf("updating the HTTPRoute: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	waitShare(t, c, urls, "app.test", "green", true)
	checkShare(t, c, urls[0], "green", 80)
}

// checkShare sends 1000 requests; every one must succeed and backend's
// share be within 4.5 points of want (3.5 sigma of a binomial share at
// 20/80: a correct split fails about once in 2000 runs).
func checkShare(t *testing.T, c *http.Client, base, backend string, want float64) {
	t.Helper()
	const n = 1000
	got := tallyAt(c, base, "app.test", n)
	if got[""] > 0 {
		t.Errorf("%d of %d requests failed: %v", got[""], n, got)
	}
	share := 100 * float64(got[backend]) / n
	if math.Abs(share-want) > 4.5 {
		t.Errorf("%s got %.1f %% of %d requests, want %.0f ± 4.5 (%v)", backend, share, n, want, got)
	}
}

// waitGatewayProgrammed waits until Weir wrote the Gateway's status at its
// generation: Programmed when the load balancer gave it an address, else
// not, for want of one (AddressNotAssigned).
func waitGatewayProgrammed(t *testing.T, ctx context.Context, gc gatewayclient.Interface, ns, name string, addressed bool) {
	t.Helper()
	want, reason := metav1.ConditionTrue, "Programmed"
	if !addressed {
		want, reason = metav1.ConditionFalse, "AddressNotAssigned"
	}
	var last gatewayv1.GatewayStatus
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		gw, err := gc.GatewayV1().Gateways(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		last = gw.Status
		for _, c := range last.Conditions {
			if c.Type == "Programmed" && c.Status == want && c.Reason == reason && c.ObservedGeneration == gw.Generation {
				return
			}
		}
	}
	t.Fatalf("Gateway %s/%s: no Programmed=%s (%s) within 60s; status %+v", ns, name, want, reason, last)
}

// waitRouteAccepted waits until Weir wrote the route's status: one parent,
// Accepted at the route's current generation.
func waitRouteAccepted(t *testing.T, ctx context.Context, gc gatewayclient.Interface, ns, name string) {
	t.Helper()
	var last gatewayv1.RouteStatus
	for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		r, err := gc.GatewayV1().HTTPRoutes(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		last = r.Status.RouteStatus
		for _, p := range last.Parents {
			for _, cond := range p.Conditions {
				if cond.Type == "Accepted" && cond.Status == metav1.ConditionTrue && cond.ObservedGeneration == r.Generation {
					return
				}
			}
		}
	}
	t.Fatalf("HTTPRoute %s/%s not Accepted by Weir within 60s; status %+v", ns, name, last)
}

// Two Gateways, both listening on port 80, serve different backends: each
// has its own address (or, without a load balancer, its own container
// port on Weir's Pods).
func TestTwoGatewaysOnPort80(t *testing.T) {
	ctx := ctxFor(t, 5*time.Minute)
	gc := gatewayAPI(t, ctx)
	ns := namespace(t, ctx)
	echoApp(t, ctx, ns, "left", 1)
	echoApp(t, ctx, ns, "right", 1)
	for _, gw := range []string{"one", "two"} {
		if _, err := gc.GatewayV1().Gateways(ns).Create(ctx, httpGateway(ns, gw), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for gw, backend := range map[string]string{"one": "left", "two": "right"} {
		if _, err := gc.GatewayV1().HTTPRoutes(ns).Create(ctx, route(ns, "to-"+backend, gw, backend, 1), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	one, two := gatewayURLs(t, ctx, gc, ns, "one"), gatewayURLs(t, ctx, gc, ns, "two")
	if one[0] == two[0] {
		t.Fatalf("both Gateways at %s", one[0])
	}
	c := client()
	for want, urls := range map[string][]string{"left": one, "right": two} {
		for _, base := range urls {
			var got map[string]int
			for end := time.Now().Add(60 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
				if got = tallyAt(c, base, "any.test", 20); got[want] == 20 {
					break
				}
			}
			if got[want] != 20 {
				t.Errorf("%s: want every request on %s, got %v", base, want, got)
			}
		}
	}
	fmt.Printf("e2e: Gateways one and two on port 80 at %v and %v\n", one, two)
}
