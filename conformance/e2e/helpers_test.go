package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"weir.dev/weir/conformance/weirdeploy"
)

// ctxFor bounds a test's API calls and waits.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

var nsSeq atomic.Int32

// namespace creates a namespace for one test and deletes it afterwards.
func namespace(t *testing.T, ctx context.Context) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 45 {
		name = name[:45]
	}
	// A suffix keeps names apart with -count=N (deletion is asynchronous).
	name = fmt.Sprintf("%s-%d", strings.TrimRight(name, "-"), nsSeq.Add(1))
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := env.cluster.Client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = env.cluster.Client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	})
	t.Cleanup(func() { keepWeirLog(t) })
	return name
}

// echoApp creates an echo-basic Deployment and a Service selecting its app
// label and version, and waits until the Service has replicas ready endpoints.
func echoApp(t *testing.T, ctx context.Context, ns, name string, replicas int32) {
	t.Helper()
	createDeployment(t, ctx, weirdeploy.Echo(ns, name, name, "v1", replicas))
	createService(t, ctx, service(ns, name, map[string]string{"app": name}))
	waitEndpoints(t, ctx, ns, name, int(replicas))
}

// gracefulApp is echoApp with Pods that keep serving 2 s after SIGTERM.
func gracefulApp(t *testing.T, ctx context.Context, ns, name string, replicas int32) {
	t.Helper()
	d := weirdeploy.Echo(ns, name, name, "v1", replicas)
	d.Spec.Template.Spec.Containers[0].Image = gracefulImage
	createDeployment(t, ctx, d)
	createService(t, ctx, service(ns, name, map[string]string{"app": name}))
	waitEndpoints(t, ctx, ns, name, int(replicas))
}

func createDeployment(t *testing.T, ctx context.Context, d *appsv1.Deployment) {
	t.Helper()
	if _, err := env.cluster.Client.AppsV1().Deployments(d.Namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Deployment %s: %v", d.Name, err)
	}
}

// service is a Service on port 80 to the Pods' named port "http".
func service(ns, name string, selector map[string]string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{
			Selector: selector,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(3000)}},
		},
	}
}

func createService(t *testing.T, ctx context.Context, s *corev1.Service) {
	t.Helper()
	if _, err := env.cluster.Client.CoreV1().Services(s.Namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Service %s: %v", s.Name, err)
	}
}

func waitEndpoints(t *testing.T, ctx context.Context, ns, svc string, n int) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := env.cluster.WaitEndpointsReady(wctx, ns, svc, n); err != nil {
		t.Fatal(err)
	}
}

// ingress is a weir-class Ingress routing host / (Prefix) to svc:80.
func ingress(ns, name, host, svc string, annotations map[string]string) *networkingv1.Ingress {
	class := "weir"
	prefix := networkingv1.PathTypePrefix
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: annotations},
		Spec: networkingv1.IngressSpec{
			IngressClassName: &class,
			Rules: []networkingv1.IngressRule{{
				Host: host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: backend(svc, 80)}},
				}},
			}},
		},
	}
}

func backend(svc string, port int32) networkingv1.IngressBackend {
	return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
		Name: svc, Port: networkingv1.ServiceBackendPort{Number: port},
	}}
}

func createIngress(t *testing.T, ctx context.Context, ing *networkingv1.Ingress) {
	t.Helper()
	if _, err := env.cluster.Client.NetworkingV1().Ingresses(ing.Namespace).Create(ctx, ing, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Ingress %s: %v", ing.Name, err)
	}
}

// updateIngress re-reads an Ingress, applies change and writes it back,
// retrying on conflicts.
func updateIngress(t *testing.T, ctx context.Context, ns, name string, change func(*networkingv1.Ingress)) {
	t.Helper()
	api := env.cluster.Client.NetworkingV1().Ingresses(ns)
	for i := 0; ; i++ {
		ing, err := api.Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			change(ing)
			_, err = api.Update(ctx, ing, metav1.UpdateOptions{})
		}
		if err == nil {
			return
		}
		if i == 5 {
			t.Fatalf("updating Ingress %s: %v", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// echo is the part of echo-basic's answer the tests read.
type echo struct {
	Status    int                 `json:"-"`
	Pod       string              `json:"pod"`
	Namespace string              `json:"namespace"`
	Path      string              `json:"path"`
	Headers   map[string][]string `json:"headers"`
}

// client talks to Weir; one per test keeps connections apart.
func client() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
}

// get sends GET host+path to Weir, through the Service's address, with the
// given extra headers. A non-JSON answer (Weir's own 404 or 503) comes back
// with only Status set.
func get(c *http.Client, host, path string, header http.Header) (echo, error) {
	return getFrom(c, env.url, host, path, header)
}

// getFrom is get sent to base (one replica's URL, or the Service's).
func getFrom(c *http.Client, base, host, path string, header http.Header) (echo, error) {
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		return echo{}, err
	}
	req.Host = host
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return echo{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return echo{Status: resp.StatusCode}, err
	}
	var e echo
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &e); err != nil {
			return echo{Status: resp.StatusCode}, fmt.Errorf("decoding %q: %w", body, err)
		}
	}
	e.Status = resp.StatusCode
	return e, nil
}

// app is the echo Deployment a Pod name belongs to: "<deployment>-<rs>-<pod>".
func app(pod string) string {
	parts := strings.Split(pod, "-")
	if len(parts) < 3 {
		return pod
	}
	return strings.Join(parts[:len(parts)-2], "-")
}

// everyWeir is the Service's URL and each replica's own (port 8080): a
// change has reached Weir when every replica shows it, since each applies
// it on its own and the Service spreads connections over both.
func everyWeir() []string {
	urls := []string{env.url}
	for i := range env.weirs {
		urls = append(urls, weirdeploy.HTTPURL(&env.weirs[i]))
	}
	return urls
}

// waitServed waits until a GET of host/ is answered by Deployment want, on
// every replica.
func waitServed(t *testing.T, c *http.Client, host string, header http.Header, want string) {
	t.Helper()
	waitEvery(t, host, fmt.Sprintf("%v served by %s", header, want), func(base string) (echo, bool, error) {
		e, err := getFrom(c, base, host, "/", header)
		return e, err == nil && e.Status == 200 && app(e.Pod) == want, err
	})
}

// waitStatus waits until a GET of host/ gets the status code want, on every
// replica.
func waitStatus(t *testing.T, c *http.Client, host string, want int) {
	t.Helper()
	waitEvery(t, host, fmt.Sprintf("status %d", want), func(base string) (echo, bool, error) {
		e, err := getFrom(c, base, host, "/", nil)
		return e, err == nil && e.Status == want, err
	})
}

// waitEvery polls each of everyWeir until ok holds there, 60 s in all.
func waitEvery(t *testing.T, host, what string, try func(base string) (echo, bool, error)) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, base := range everyWeir() {
		for {
			last, ok, lastErr := try(base)
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s via %s: not %s within 60s; last answer: status %d pod %q err %v", host, base, what, last.Status, last.Pod, lastErr)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// tally sends n GETs and counts the answering Deployments ("" for errors
// and non-200 answers).
func tally(t *testing.T, c *http.Client, host string, header http.Header, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for i := 0; i < n; i++ {
		e, err := get(c, host, "/", header)
		if err != nil || e.Status != 200 {
			got[""]++
			continue
		}
		got[app(e.Pod)]++
	}
	return got
}

// keepWeirLog copies each Weir replica's log (with its access log) to the
// output directory when the test failed: the cluster, and the logs, go at
// the end.
func keepWeirLog(t *testing.T) {
	if !t.Failed() {
		return
	}
	for i := range env.weirs {
		b, err := os.ReadFile(env.cluster.PodLogPath(&env.weirs[i], "weir"))
		if err != nil {
			t.Logf("reading Weir's log: %v", err)
			continue
		}
		path := filepath.Join(*outDir, fmt.Sprintf("%s.weir-%d.log", strings.ReplaceAll(t.Name(), "/", "_"), i))
		if err := os.MkdirAll(*outDir, 0o755); err == nil {
			err = os.WriteFile(path, b, 0o644)
		}
		t.Logf("log of Weir Pod %s: %s (%v)", env.weirs[i].Name, path, err)
	}
}
