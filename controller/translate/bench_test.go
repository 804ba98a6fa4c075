package translate_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"weir.dev/weir/annotations"
	. "weir.dev/weir/controller/translate"
)

// benchInputs is the benchmark shape: n Ingresses, each one host and
// two paths on its own Service with eps endpoints; every tenth Ingress has a
// canary Ingress sending 10 % to a second Service.
func benchInputs(n, eps int) *Inputs {
	in := &Inputs{IngressClasses: []*networkingv1.IngressClass{{ObjectMeta: metav1.ObjectMeta{Name: "weir"},
		Spec: networkingv1.IngressClassSpec{Controller: DefaultControllerClass}}}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		ns, svc := fmt.Sprintf("ns-%d", i%100), fmt.Sprintf("svc-%d", i)
		host := fmt.Sprintf("h%d.example.com", i)
		in.Ingresses = append(in.Ingresses, benchIngress(ns, svc, host, svc, nil, t0.Add(time.Duration(i)*time.Second)))
		in.Services = append(in.Services, benchService(ns, svc))
		in.EndpointSlices = append(in.EndpointSlices, benchSlice(ns, svc, i, eps))
		if i%10 != 0 {
			continue
		}
		canary := svc + "-canary"
		ann := map[string]string{annotations.Prefix + "canary": "true", annotations.Prefix + "canary-weight": "10"}
		in.Ingresses = append(in.Ingresses, benchIngress(ns, canary, host, canary, ann, t0.Add(time.Duration(n+i)*time.Second)))
		in.Services = append(in.Services, benchService(ns, canary))
		in.EndpointSlices = append(in.EndpointSlices, benchSlice(ns, canary, n+i, 1))
	}
	return in
}

func benchIngress(ns, name, host, svc string, ann map[string]string, created time.Time) *networkingv1.Ingress {
	pt := networkingv1.PathTypePrefix
	paths := []networkingv1.HTTPIngressPath{
		{Path: "/", PathType: &pt, Backend: benchBackend(svc)},
		{Path: "/api", PathType: &pt, Backend: benchBackend(svc)},
	}
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: ann, CreationTimestamp: metav1.NewTime(created)},
		Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("weir"), Rules: []networkingv1.IngressRule{{Host: host,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}}}}},
	}
}

func benchBackend(svc string) networkingv1.IngressBackend {
	return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc, Port: networkingv1.ServiceBackendPort{Number: 80}}}
}

func benchService(ns, name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
}

func benchSlice(ns, svc string, seed, eps int) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: svc + "-x", Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}},
	}
	for e := 0; e < eps; e++ {
		addr := fmt.Sprintf("10.%d.%d.%d", (seed>>8)&255, seed&255, e+1)
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{addr}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	return s
}

// go test ./controller/translate -run '^$' -bench Translate -benchtime 5x
func BenchmarkTranslate1000(b *testing.B)  { benchmarkTranslate(b, 1000, 3) }
func BenchmarkTranslate10000(b *testing.B) { benchmarkTranslate(b, 10000, 5) }

func benchmarkTranslate(b *testing.B, n, eps int) {
	in := benchInputs(n, eps)
	b.ReportAllocs()
	b.ResetTimer()
	var routes int
	for i := 0; i < b.N; i++ {
		res := Translate(in, uint64(i+1))
		if res.Table == nil || len(res.Problems) != 0 {
			b.Fatalf("table %v, problems:\n%s", res.Table != nil, FormatProblems(res.Problems))
		}
		routes = res.Table.Len()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/ingress")
	b.ReportMetric(float64(retained(in))/float64(routes), "retained-B/route")
}

// retained measures the heap one translation keeps alive (the table and
// its backends, not the inputs).
func retained(in *Inputs) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res := Translate(in, 1)
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(res)
	runtime.KeepAlive(in)
	if after.HeapAlloc < before.HeapAlloc {
		return 0
	}
	return after.HeapAlloc - before.HeapAlloc
}
