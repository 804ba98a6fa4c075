package localcluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"weir.dev/weir/conformance/localcluster"
)

// TestLoadBalancer checks the cluster's LoadBalancer Services: an address
// from the pool in status, address:port reaching the ready endpoints (named
// and numeric targetPort) from the root namespace and from a Pod, following
// a scale-down, static addresses on request, an unusable address refused
// with an Event, and the address released with the Service.
func TestLoadBalancer(t *testing.T) {
	c := localcluster.Start(t, localcluster.Options{Images: []localcluster.ImageRule{shellImage}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cs := c.Client
	createEcho(ctx, t, cs, "default", "echo", 2)
	pods := waitReadyPods(ctx, t, cs, "default", "app=echo", 2)
	lbService(ctx, t, cs, "echo-lb", "")
	addr := waitLBAddress(ctx, t, cs, "default", "echo-lb")
	if !c.PodCIDR.Contains(mustAddr(t, addr)) || addr == pods[0].Status.PodIP || addr == pods[1].Status.PodIP {
		t.Fatalf("LoadBalancer address %s: want a pool address of %s, not a Pod's", addr, c.PodCIDR)
	}
	for _, port := range []string{"80", "8081"} {
		seen := map[string]int{}
		for range 40 {
			seen[lbGet(ctx, t, net.JoinHostPort(addr, port))]++
		}
		if len(seen) != 2 || seen[pods[0].Name] == 0 || seen[pods[1].Name] == 0 {
			t.Errorf("40 connections to %s:%s reached %v; want both Pods %s and %s", addr, port, seen, pods[0].Name, pods[1].Name)
		}
	}
	client := shellPod("client", "curl -s --max-time 5 http://"+addr+"/from-pod; echo; echo DONE; exec sleep 600")
	created, err := cs.CoreV1().Pods("default").Create(ctx, client, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the client Pod: %v", err)
	}
	if out := waitLog(ctx, t, c.PodLogPath(created, "main"), "DONE"); !strings.Contains(out, `"path": "/from-pod"`) {
		t.Errorf("a Pod reaching %s: got %q, want an echo-basic answer", addr, out)
	}

	scale, err := cs.AppsV1().Deployments("default").GetScale(ctx, "echo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = 1
	if _, err := cs.AppsV1().Deployments("default").UpdateScale(ctx, "echo", scale, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("scaling to 1: %v", err)
	}
	waitReadyEndpoints(ctx, t, cs, "default", "echo-lb", 1)
	remaining := waitReadyPods(ctx, t, cs, "default", "app=echo", 1)[0].Name
	poll(ctx, t, "20 answers in a row from the remaining Pod "+remaining, func(ctx context.Context) (bool, error) {
		for range 20 {
			if pod, err := tryLBGet(ctx, addr+":80"); err != nil || pod != remaining {
				return false, nil
			}
		}
		return true, nil
	})

	static := c.StaticLoadBalancerAddresses()[0].String()
	lbService(ctx, t, cs, "static", static)
	if got := waitLBAddress(ctx, t, cs, "default", "static"); got != static {
		t.Errorf("Service asking for %s got %s", static, got)
	}
	if got := lbGet(ctx, t, static+":80"); got != remaining {
		t.Errorf("the static address answered as %q, want %s", got, remaining)
	}
	lbService(ctx, t, cs, "unusable", localcluster.UnusableLoadBalancerAddress.String())
	poll(ctx, t, "an AllocationFailed Event for Service unusable", func(ctx context.Context) (bool, error) {
		evs, err := cs.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=unusable"})
		return err == nil && len(evs.Items) > 0 && evs.Items[0].Reason == "AllocationFailed", nil
	})
	if s, _ := cs.CoreV1().Services("default").Get(ctx, "unusable", metav1.GetOptions{}); len(s.Status.LoadBalancer.Ingress) != 0 {
		t.Errorf("Service asking for an unusable address got %v", s.Status.LoadBalancer.Ingress)
	}

	if err := cs.CoreV1().Services("default").Delete(ctx, "echo-lb", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(ctx, t, "the address "+addr+" to stop answering", func(ctx context.Context) (bool, error) {
		conn, err := net.DialTimeout("tcp", addr+":80", time.Second)
		if err == nil {
			conn.Close()
		}
		return err != nil, nil
	})
}

// lbService creates a LoadBalancer Service for the echo Pods: port 80 to the
// named port http, 8081 to 3000 by number; ip, when set, is requested.
func lbService(ctx context.Context, t *testing.T, cs kubernetes.Interface, name, ip string) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Type:           corev1.ServiceTypeLoadBalancer,
			Selector:       map[string]string{"app": "echo"},
			LoadBalancerIP: ip,
			Ports: []corev1.ServicePort{
				{Name: "web", Port: 80, TargetPort: intstr.FromString("http")},
				{Name: "alt", Port: 8081, TargetPort: intstr.FromInt32(3000)},
			},
		},
	}
	if _, err := cs.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating Service %s: %v", name, err)
	}
}

func waitLBAddress(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns, name string) string {
	t.Helper()
	var addr string
	poll(ctx, t, "an address for Service "+name, func(ctx context.Context) (bool, error) {
		s, err := cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || len(s.Status.LoadBalancer.Ingress) != 1 {
			return false, nil
		}
		in := s.Status.LoadBalancer.Ingress[0]
		addr = in.IP
		return ptr.Deref(in.IPMode, "") == corev1.LoadBalancerIPModeVIP, nil
	})
	return addr
}

// lbGet sends one request on a new connection and returns the answering Pod.
func lbGet(ctx context.Context, t *testing.T, hostport string) string {
	t.Helper()
	pod, err := tryLBGet(ctx, hostport)
	if err != nil {
		t.Fatal(err)
	}
	return pod
}

func tryLBGet(ctx context.Context, hostport string) (string, error) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+hostport+"/lb", nil)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var got echoResponse
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		return "", fmt.Errorf("decoding the answer through %s: %w", hostport, err)
	}
	return got.Pod, nil
}
