package translate_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	. "weir.dev/weir/controller/translate"
)

// gatewayBenchInputs is the benchmark shape: gws Gateways (an HTTP
// listener on 80 and an HTTPS one on 443 without certificate, so that one
// port is served), each with routesPer HTTPRoutes of two rules on their own
// hostname and Service of five endpoints.
func gatewayBenchInputs(gws, routesPer int) *Inputs {
	in := &Inputs{GatewayClasses: []*gatewayv1.GatewayClass{{ObjectMeta: metav1.ObjectMeta{Name: "weir"},
		Spec: gatewayv1.GatewayClassSpec{ControllerName: DefaultGatewayControllerName}}}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for g := 0; g < gws; g++ {
		ns := fmt.Sprintf("ns-%d", g%100)
		gwName := fmt.Sprintf("gw-%d", g)
		in.Gateways = append(in.Gateways, &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Name: gwName, Namespace: ns},
			Spec: gatewayv1.GatewaySpec{GatewayClassName: "weir", Listeners: []gatewayv1.Listener{
				{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}}})
		for r := 0; r < routesPer; r++ {
			i := g*routesPer + r
			name := fmt.Sprintf("route-%d", i)
			in.HTTPRoutes = append(in.HTTPRoutes, benchRoute(ns, name, gwName, t0.Add(time.Duration(i)*time.Second)))
			in.Services = append(in.Services, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
				Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}})
			s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: name + "-x", Namespace: ns,
				Labels: map[string]string{discoveryv1.LabelServiceName: name}}, AddressType: discoveryv1.AddressTypeIPv4,
				Ports: []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}}}
			for e := 0; e < 5; e++ {
				s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.%d.%d.%d", i/256%256, i%256, e+1)},
					Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
			}
			in.EndpointSlices = append(in.EndpointSlices, s)
		}
	}
	return in
}

func benchRoute(ns, name, gw string, created time.Time) *gatewayv1.HTTPRoute {
	ref := gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
		Name: gatewayv1.ObjectName(name), Port: ptr.To[gatewayv1.PortNumber](80)}}}
	api := gatewayv1.HTTPRouteMatch{Path: &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: ptr.To("/api")},
		Headers: []gatewayv1.HTTPHeaderMatch{{Name: "X-Version", Value: "2"}}}
	return &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, CreationTimestamp: metav1.NewTime(created), Generation: 1},
		Spec: gatewayv1.HTTPRouteSpec{CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: gatewayv1.ObjectName(gw)}}},
			Hostnames: []gatewayv1.Hostname{gatewayv1.Hostname(name + ".example.com")},
			Rules: []gatewayv1.HTTPRouteRule{
				{BackendRefs: []gatewayv1.HTTPBackendRef{ref}},
				{Matches: []gatewayv1.HTTPRouteMatch{api}, BackendRefs: []gatewayv1.HTTPBackendRef{ref}},
			}}}
}

// BenchmarkTranslateGateways is a full translation of 1,000 Gateways with
// 10,000 HTTPRoutes.
func BenchmarkTranslateGateways(b *testing.B) {
	in := gatewayBenchInputs(1000, 10)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	var res *Result
	for i := 0; i < b.N; i++ {
		res = Translate(in, uint64(i))
	}
	b.StopTimer()
	reportCPU(b, cpu)
	if len(res.GatewayListeners) != 1000 || len(res.Problems) > 0 {
		b.Fatalf("%d listeners, problems %v", len(res.GatewayListeners), res.Problems)
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds the CPU time per operation (all threads, the garbage
// collector's included): on a shared machine it moves far less than the
// wall time does.
func reportCPU(b *testing.B, since time.Duration) {
	b.ReportMetric(float64(cpuTime()-since)/float64(b.N)/1e6, "cpu-ms/op")
}
