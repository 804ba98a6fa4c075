package translate_test

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"weir.dev/weir/annotations"
	. "weir.dev/weir/controller/translate"
)

// sampleInputs is the benchmark shape (for the external tests): n Ingresses, each one host and
// two paths on its own Service with eps endpoints; every tenth Ingress has a
// canary Ingress sending 10 % to a second Service.
func sampleInputs(n, eps int) *Inputs {
	in := &Inputs{IngressClasses: []*networkingv1.IngressClass{{ObjectMeta: metav1.ObjectMeta{Name: "weir"},
		Spec: networkingv1.IngressClassSpec{Controller: DefaultControllerClass}}}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		ns, svc := fmt.Sprintf("ns-%d", i%100), fmt.Sprintf("svc-%d", i)
		host := fmt.Sprintf("h%d.example.com", i)
		in.Ingresses = append(in.Ingresses, sampleIngress(ns, svc, host, svc, nil, t0.Add(time.Duration(i)*time.Second)))
		in.Services = append(in.Services, sampleService(ns, svc))
		in.EndpointSlices = append(in.EndpointSlices, sampleSlice(ns, svc, i, eps))
		if i%10 != 0 {
			continue
		}
		canary := svc + "-canary"
		ann := map[string]string{annotations.Prefix + "canary": "true", annotations.Prefix + "canary-weight": "10"}
		in.Ingresses = append(in.Ingresses, sampleIngress(ns, canary, host, canary, ann, t0.Add(time.Duration(n+i)*time.Second)))
		in.Services = append(in.Services, sampleService(ns, canary))
		in.EndpointSlices = append(in.EndpointSlices, sampleSlice(ns, canary, n+i, 1))
	}
	return in
}

func sampleIngress(ns, name, host, svc string, ann map[string]string, created time.Time) *networkingv1.Ingress {
	pt := networkingv1.PathTypePrefix
	paths := []networkingv1.HTTPIngressPath{
		{Path: "/", PathType: &pt, Backend: sampleBackend(svc)},
		{Path: "/api", PathType: &pt, Backend: sampleBackend(svc)},
	}
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: ann, CreationTimestamp: metav1.NewTime(created)},
		Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("weir"), Rules: []networkingv1.IngressRule{{Host: host,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}}}}},
	}
}

func sampleBackend(svc string) networkingv1.IngressBackend {
	return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: svc, Port: networkingv1.ServiceBackendPort{Number: 80}}}
}

func sampleService(ns, name string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}
}

func sampleSlice(ns, svc string, seed, eps int) *discoveryv1.EndpointSlice {
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
