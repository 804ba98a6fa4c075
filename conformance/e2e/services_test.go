package e2e

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"weir.dev/weir/conformance/weirdeploy"
)

// TestServiceVariants routes to the kinds of Service an Ingress can name.
// Weir resolves every one through EndpointSlices (never a ClusterIP), except
// ExternalName, which it dials by name.
func TestServiceVariants(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ns := namespace(t, ctx)
	c := client()

	// One Deployment "web" whose Pods run two echo containers: "echo" on
	// 3000 (port name http) answering with the Pod's name, and "second" on
	// 3002 (port name second) answering as "second".
	d := weirdeploy.Echo(ns, "web", "web", "v1", 1)
	second := d.Spec.Template.Spec.Containers[0]
	second.Name = "second"
	second.Env = []corev1.EnvVar{{Name: "POD_NAME", Value: "second-x-y"}, {Name: "HTTP_PORT", Value: "3002"}, {Name: "H2C_PORT", Value: "3003"}}
	second.Ports = []corev1.ContainerPort{{Name: "second", ContainerPort: 3002}}
	second.ReadinessProbe = nil
	d.Spec.Template.Spec.Containers = append(d.Spec.Template.Spec.Containers, second)
	createDeployment(t, ctx, d)
	pods, err := env.cluster.WaitPodsReady(ctx, ns, "app=web", 1)
	if err != nil {
		t.Fatal(err)
	}
	podIP := pods[0].Status.PodIP

	t.Run("named targetPort", func(t *testing.T) {
		svc := service(ns, "named", map[string]string{"app": "web"})
		svc.Spec.Ports[0].TargetPort = intstr.FromString("http")
		createService(t, ctx, svc)
		createIngress(t, ctx, ingress(ns, "named", "named."+ns+".test", "named", nil))
		waitServed(t, c, "named."+ns+".test", nil, "web")
	})

	t.Run("multi-port", func(t *testing.T) {
		svc := service(ns, "multi", map[string]string{"app": "web"})
		svc.Spec.Ports = []corev1.ServicePort{
			{Name: "http", Port: 80, TargetPort: intstr.FromString("http")},
			{Name: "second", Port: 81, TargetPort: intstr.FromString("second")},
		}
		createService(t, ctx, svc)
		host := "multi." + ns + ".test"
		ing := ingress(ns, "multi", host, "multi", nil)
		ing.Spec.Rules[0].HTTP.Paths = []networkingv1.HTTPIngressPath{
			prefixPath("/first", networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
				Name: "multi", Port: networkingv1.ServiceBackendPort{Name: "http"}}}),
			prefixPath("/second", backend("multi", 81)),
		}
		createIngress(t, ctx, ing)
		waitPath(t, host, "/first", "web")
		waitPath(t, host, "/second", "second")
	})

	t.Run("headless", func(t *testing.T) {
		svc := service(ns, "headless", map[string]string{"app": "web"})
		svc.Spec.ClusterIP = corev1.ClusterIPNone
		createService(t, ctx, svc)
		createIngress(t, ctx, ingress(ns, "headless", "headless."+ns+".test", "headless", nil))
		waitServed(t, c, "headless."+ns+".test", nil, "web")
	})

	t.Run("without selector", func(t *testing.T) {
		createService(t, ctx, service(ns, "manual", nil))
		createSlice(t, ns, "manual", podIP, 3002)
		createIngress(t, ctx, ingress(ns, "manual", "manual."+ns+".test", "manual", nil))
		waitServed(t, c, "manual."+ns+".test", nil, "second")
	})

	// An IP literal is a valid DNS-1123 subdomain, so the API server takes
	// it as externalName; a real name would need a resolver entry on the
	// host (Pods share the host's /etc/resolv.conf and /etc/hosts), which
	// a test must not change.
	t.Run("ExternalName", func(t *testing.T) {
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "external", Namespace: ns},
			Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeExternalName, ExternalName: podIP,
				Ports: []corev1.ServicePort{{Name: "http", Port: 3000}},
			},
		}
		createService(t, ctx, svc)
		ing := ingress(ns, "external", "external."+ns+".test", "external", nil)
		ing.Spec.Rules[0].HTTP.Paths[0].Backend = backend("external", 3000)
		createIngress(t, ctx, ing)
		waitServed(t, c, "external."+ns+".test", nil, "web")
	})
}

func prefixPath(path string, b networkingv1.IngressBackend) networkingv1.HTTPIngressPath {
	prefix := networkingv1.PathTypePrefix
	return networkingv1.HTTPIngressPath{Path: path, PathType: &prefix, Backend: b}
}

// createSlice writes the EndpointSlice of a Service without selector: one
// ready endpoint ip:port under the port name "http".
func createSlice(t *testing.T, ns, svc, ip string, port int32) {
	t.Helper()
	name, proto, ready := "http", corev1.ProtocolTCP, true
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: svc + "-manual", Namespace: ns,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port, Protocol: &proto}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
	}
	if _, err := env.cluster.Client.DiscoveryV1().EndpointSlices(ns).Create(ctxFor(t, 30*time.Second), s, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating EndpointSlice: %v", err)
	}
}

// waitPath waits until GET host+path is answered by want with the path
// passed through unchanged.
func waitPath(t *testing.T, host, path, want string) {
	t.Helper()
	c := client()
	var last echo
	var lastErr error
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		last, lastErr = get(c, host, path, nil)
		if lastErr == nil && last.Status == 200 && app(last.Pod) == want && last.Path == path {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s%s: not served by %s within 60s; last: status %d pod %q path %q err %v", host, path, want, last.Status, last.Pod, last.Path, lastErr)
}
