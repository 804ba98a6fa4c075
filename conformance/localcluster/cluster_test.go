package localcluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"weir.dev/weir/conformance/localcluster"
)

const echoImage = "gcr.io/k8s-staging-gateway-api/echo-basic:v20240412-v1.0.0-394-g40c666fd"

// TestEchoDeployment runs echo-basic through the real Deployment and
// ReplicaSet controllers, checks the Pods answer on their own addresses and
// appear as ready endpoints, then deletes them and checks nothing is left.
func TestEchoDeployment(t *testing.T) {
	c := localcluster.Start(t, localcluster.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cs := c.Client

	start := time.Now()
	createEcho(ctx, t, cs, "default", "echo", 2)
	pods := waitReadyPods(ctx, t, cs, "default", "app=echo", 2)
	t.Logf("2 echo-basic Pods Ready %s after the Deployment was created", time.Since(start).Round(time.Millisecond))
	waitReadyEndpoints(ctx, t, cs, "default", "echo", 2)
	t.Logf("EndpointSlice holds 2 ready endpoints %s after the Deployment was created", time.Since(start).Round(time.Millisecond))

	for _, p := range pods {
		got := getEcho(ctx, t, p.Status.PodIP)
		if got.Pod != p.Name || got.Namespace != "default" {
			t.Errorf("pod %s at %s answered pod=%q namespace=%q", p.Name, p.Status.PodIP, got.Pod, got.Namespace)
		}
	}
	if n := len(c.PodNetns(ctx)); n != 2 {
		t.Errorf("want 2 pod network namespaces, have %d", n)
	}
	killAndRecover(ctx, t, c, &pods[0])

	err := cs.AppsV1().Deployments("default").Delete(ctx, "echo", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)})
	if err != nil {
		t.Fatalf("deleting the Deployment: %v", err)
	}
	poll(ctx, t, "the Pods and their network namespaces to be gone", func(ctx context.Context) (bool, error) {
		list, err := cs.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=echo"})
		return err == nil && len(list.Items) == 0 && len(c.PodNetns(ctx)) == 0, nil
	})
}

// TestUnknownImage checks that a Pod whose image has no local binary stays
// Pending with an Event saying so.
func TestUnknownImage(t *testing.T) {
	c := localcluster.Start(t, localcluster.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx", Namespace: "default"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx:1.27"}}},
	}
	if _, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the Pod: %v", err)
	}
	poll(ctx, t, "an UnknownImage Event", func(ctx context.Context) (bool, error) {
		evs, err := c.Client.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=nginx"})
		if err != nil {
			return false, nil
		}
		for _, e := range evs.Items {
			if e.Reason == "UnknownImage" {
				return true, nil
			}
		}
		return false, nil
	})
	got, err := c.Client.CoreV1().Pods("default").Get(ctx, "nginx", metav1.GetOptions{})
	if err != nil || got.Status.Phase != corev1.PodPending {
		t.Errorf("want the Pod Pending, have %v (err %v)", got.Status.Phase, err)
	}
}

// TestTwoClusters runs two clusters at once, each with a Pod answering on an
// address of its own range.
func TestTwoClusters(t *testing.T) {
	a := localcluster.Start(t, localcluster.Options{Name: "t-two-a"})
	b := localcluster.Start(t, localcluster.Options{Name: "t-two-b"})
	if a.PodCIDR == b.PodCIDR || a.Server == b.Server {
		t.Fatalf("clusters share a range or server: %s %s / %s %s", a.PodCIDR, a.Server, b.PodCIDR, b.Server)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, c := range []*localcluster.Cluster{a, b} {
		createEcho(ctx, t, c.Client, "default", "echo", 1)
	}
	for _, c := range []*localcluster.Cluster{a, b} {
		pods := waitReadyPods(ctx, t, c.Client, "default", "app=echo", 1)
		ip := pods[0].Status.PodIP
		if !c.PodCIDR.Contains(mustAddr(t, ip)) {
			t.Errorf("cluster %s: pod IP %s outside %s", c.Name, ip, c.PodCIDR)
		}
		if got := getEcho(ctx, t, ip); got.Pod != pods[0].Name {
			t.Errorf("cluster %s: pod %s answered as %q", c.Name, pods[0].Name, got.Pod)
		}
	}
}

func createEcho(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name string, replicas int32) {
	t.Helper()
	labels := map[string]string{"app": name}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](5),
					Containers: []corev1.Container{{
						Name:  "echo",
						Image: echoImage,
						Env:   []corev1.EnvVar{fieldEnv("POD_NAME", "metadata.name"), fieldEnv("NAMESPACE", "metadata.namespace")},
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 3000}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromString("http")}},
							PeriodSeconds: 1,
						},
					}},
				},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Deployment %s: %v", name, err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{
			Selector: labels,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Service %s: %v", name, err)
	}
}

func waitReadyPods(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, selector string, n int) []corev1.Pod {
	t.Helper()
	var ready []corev1.Pod
	poll(ctx, t, fmt.Sprintf("%d ready Pods %s", n, selector), func(ctx context.Context) (bool, error) {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, nil
		}
		ready = ready[:0]
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil && podReady(&p) {
				ready = append(ready, p)
			}
		}
		return len(ready) == n, nil
	})
	return ready
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func waitReadyEndpoints(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, svc string, n int) {
	t.Helper()
	poll(ctx, t, fmt.Sprintf("%d ready endpoints for Service %s", n, svc), func(ctx context.Context) (bool, error) {
		list, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc})
		if err != nil {
			return false, nil
		}
		count := 0
		for _, s := range list.Items {
			for _, e := range s.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready {
					count++
				}
			}
		}
		return count == n, nil
	})
}

type echoResponse struct {
	Pod       string `json:"pod"`
	Namespace string `json:"namespace"`
	Path      string `json:"path"`
}

func getEcho(ctx context.Context, t *testing.T, ip string) echoResponse {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+ip+":3000/hello", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET from pod %s: %v", ip, err)
	}
	defer resp.Body.Close()
	var got echoResponse
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatalf("decoding the answer of pod %s: %v", ip, err)
	}
	return got
}

func poll(ctx context.Context, t *testing.T, what string, cond wait.ConditionWithContextFunc) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatalf("parsing pod IP %q: %v", s, err)
	}
	return a
}

// killAndRecover kills a Pod's process and checks the kubelet restarts it
// and the Pod answers again.
func killAndRecover(ctx context.Context, t *testing.T, c *localcluster.Cluster, p *corev1.Pod) {
	t.Helper()
	pid, err := localcluster.ContainerPID(p, "echo")
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("killing pid %d: %v", pid, err)
	}
	start := time.Now()
	poll(ctx, t, "the killed container to be restarted and Ready", func(ctx context.Context) (bool, error) {
		got, err := c.Client.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
		if err != nil || len(got.Status.ContainerStatuses) == 0 {
			return false, nil
		}
		return got.Status.ContainerStatuses[0].RestartCount == 1 && podReady(got), nil
	})
	t.Logf("killed container Ready again %s later", time.Since(start).Round(time.Millisecond))
	if got := getEcho(ctx, t, p.Status.PodIP); got.Pod != p.Name {
		t.Errorf("restarted pod %s answered as %q", p.Name, got.Pod)
	}
}
