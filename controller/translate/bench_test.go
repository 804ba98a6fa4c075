package translate

import (
	"fmt"
	"runtime"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// benchInputs builds n Ingresses, each with one host and two paths to its
// own Service of five endpoints; every tenth has a 10 % canary Ingress.
func benchInputs(n int) *Inputs {
	in := &Inputs{IngressClasses: []*networkingv1.IngressClass{{ObjectMeta: metav1.ObjectMeta{Name: "weir"},
		Spec: networkingv1.IngressClassSpec{Controller: DefaultControllerClass}}}}
	pt := networkingv1.PathTypePrefix
	ing := func(name, host, svc string, ann map[string]string) *networkingv1.Ingress {
		be := networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc, Port: networkingv1.ServiceBackendPort{Number: 80}}}
		return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "bench", Annotations: ann},
			Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("weir"), Rules: []networkingv1.IngressRule{{Host: host,
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{
					{Path: "/", PathType: &pt, Backend: be}, {Path: "/api", PathType: &pt, Backend: be}}}}}}}}
	}
	svc := func(name string, base int) {
		in.Services = append(in.Services, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "bench"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}})
		s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: name + "-x", Namespace: "bench",
			Labels: map[string]string{discoveryv1.LabelServiceName: name}}, AddressType: discoveryv1.AddressTypeIPv4,
			Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}}}
		for e := 0; e < 5; e++ {
			s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.%d.%d.%d", base/65536%256, base/256%256, base%256+e)},
				Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
		}
		in.EndpointSlices = append(in.EndpointSlices, s)
	}
	for i := 0; i < n; i++ {
		host := fmt.Sprintf("app-%d.example.com", i)
		name := fmt.Sprintf("app-%d", i)
		svc(name, i*8)
		in.Ingresses = append(in.Ingresses, ing(name, host, name, nil))
		if i%10 == 0 {
			svc(name+"-canary", i*8+5)
			in.Ingresses = append(in.Ingresses, ing(name+"-canary", host, name+"-canary", map[string]string{
				"nginx.ingress.kubernetes.io/canary": "true", "nginx.ingress.kubernetes.io/canary-weight": "10"}))
		}
	}
	return in
}

func BenchmarkTranslate(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("ingresses=%d", n), func(b *testing.B) {
			in := benchInputs(n)
			b.ReportAllocs()
			b.ResetTimer()
			var res *Result
			for i := 0; i < b.N; i++ {
				res = Translate(in, uint64(i))
			}
			b.StopTimer()
			if res.Table == nil || len(res.Problems) > 0 {
				b.Fatalf("unexpected problems: %v", res.Problems)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/ingress")
			// Retained memory of one table, per route: the heap after a GC
			// with the table held, less the heap with it dropped.
			res = nil
			keep := Translate(in, 1)
			routes := keep.Table.Len()
			runtime.GC()
			var with, without runtime.MemStats
			runtime.ReadMemStats(&with)
			runtime.KeepAlive(keep)
			keep = nil
			runtime.GC()
			runtime.ReadMemStats(&without)
			// The informers hold the objects themselves whatever the
			// table keeps: only what translation adds counts.
			runtime.KeepAlive(in)
			b.ReportMetric(float64(int64(with.HeapAlloc)-int64(without.HeapAlloc))/float64(routes), "B-retained/route")
		})
	}
}
