// Package bench holds issue 13's benchmark scenarios that are correctness
// checks rather than rates (S7 canary accuracy, S9 long-lived streams across
// table swaps) as Go tests, and the side-by-side scripts (sidebyside.sh)
// for the rest. The tests run Weir's real pipeline in process: Ingress
// objects through controller/translate into a table, published to the
// proxy, served by proxy.NewHTTPServer on a loopback socket, in front of
// real backends on loopback. See docs/benchmarks.md.
package bench

import (
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"weir.dev/weir/controller/translate"
	"weir.dev/weir/proxy"
	"weir.dev/weir/proxy/endpoint"
)

const ns = "bench"

// stack is Weir's proxy on a loopback port, fed by translate from objects.
type stack struct {
	t    *testing.T
	srv  *proxy.Server
	addr string
	gen  uint64
	base []any // IngressClass, Services and EndpointSlices of every publish
}

// seededRand makes the canary's weighted draw reproducible: the number of
// canary answers out of n requests is the same on every run, whatever the
// order in which concurrent requests draw.
type seededRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func (s *seededRand) IntN(n int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.r.IntN(n)
}

func newStack(t *testing.T) *stack {
	t.Helper()
	reg := endpoint.NewRegistry(endpoint.Options{})
	t.Cleanup(reg.Close)
	srv := proxy.New(proxy.Options{Rand: &seededRand{r: rand.New(rand.NewPCG(13, 7))}}, reg, nil, nil)
	t.Cleanup(srv.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	hs := proxy.NewHTTPServer(ln.Addr().String(), srv, proxy.ServerOptions{CleartextHTTP2: true}, nil)
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close() })
	class := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "weir"},
		Spec: networkingv1.IngressClassSpec{Controller: "weir.dev/ingress-controller"}}
	return &stack{t: t, srv: srv, addr: ln.Addr().String(), base: []any{class}}
}

// service adds a Service named name whose one endpoint is addr (host:port).
func (s *stack) service(name, addr string) {
	host, portStr, err := net.SplitHostPort(addr)
	require.NoError(s.t, err)
	port, err := strconv.Atoi(portStr)
	require.NoError(s.t, err)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(int32(port))}}}}
	ready, pname, p32 := true, "http", int32(port)
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name + "-1", Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &pname, Port: &p32}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{host}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
	}
	s.base = append(s.base, svc, slice)
}

// publish translates the base objects and ings into a new table and puts
// it in service, as the controller does after a change.
func (s *stack) publish(ings ...*networkingv1.Ingress) {
	s.t.Helper()
	in := &translate.Inputs{Ingresses: ings}
	for _, o := range s.base {
		switch o := o.(type) {
		case *networkingv1.IngressClass:
			in.IngressClasses = append(in.IngressClasses, o)
		case *corev1.Service:
			in.Services = append(in.Services, o)
		case *discoveryv1.EndpointSlice:
			in.EndpointSlices = append(in.EndpointSlices, o)
		}
	}
	s.gen++
	res := translate.Translate(in, s.gen)
	require.Empty(s.t, res.Problems, translate.FormatProblems(res.Problems))
	require.NotNil(s.t, res.Table)
	s.srv.Publish(res.Table)
}

// ingress is one Prefix "/" rule for host to Service svc.
func ingress(name, host, svc string, annotations map[string]string) *networkingv1.Ingress {
	class, prefix := "weir", networkingv1.PathTypePrefix
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: annotations},
		Spec: networkingv1.IngressSpec{IngressClassName: &class, Rules: []networkingv1.IngressRule{{
			Host: host,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: &prefix,
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
					Name: svc, Port: networkingv1.ServiceBackendPort{Number: 80}}},
			}}}},
		}}},
	}
}

// named is a loopback backend that answers with its name in X-Backend.
func named(t *testing.T, name string) string {
	return serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Backend", name)
		_, _ = w.Write([]byte(name))
	}))
}
