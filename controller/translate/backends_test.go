package translate_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"

	. "weir.dev/weir/controller/translate"
)

// TestServicePortNumberPicksTCP: an Ingress naming port 53 of a Service
// whose port 53 exists for UDP (listed first) and for TCP is routed to the
// TCP port's endpoints, not left without endpoints by the UDP one.
func TestServicePortNumberPicksTCP(t *testing.T) {
	in := sampleInputs(0, 0)
	ing := sampleIngress("kube-system", "dns", "dns.example.com", "dns", nil, time.Unix(0, 0))
	for i := range ing.Spec.Rules[0].HTTP.Paths {
		ing.Spec.Rules[0].HTTP.Paths[i].Backend.Service.Port.Number = 53
	}
	svc := sampleService("kube-system", "dns")
	svc.Spec.Ports = []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
		{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP}}
	slice := sampleSlice("kube-system", "dns", 9, 1)
	slice.Ports = []discoveryv1.EndpointPort{{Name: ptr.To("dns"), Port: ptr.To[int32](5353), Protocol: ptr.To(corev1.ProtocolUDP)},
		{Name: ptr.To("dns-tcp"), Port: ptr.To[int32](5354), Protocol: ptr.To(corev1.ProtocolTCP)}}
	in.Ingresses, in.Services, in.EndpointSlices = append(in.Ingresses, ing), append(in.Services, svc), append(in.EndpointSlices, slice)

	res := Translate(in, 1)
	require.NotNil(t, res.Table)
	rt := res.Table.Lookup("dns.example.com", "/", nil)
	require.NotNil(t, rt, "the Ingress's route")
	eps := res.Table.Endpoints(rt.Action.Split.Main)
	require.Len(t, eps, 1, "problems: %s", FormatProblems(res.Problems))
	require.Equal(t, "10.0.9.1:5354", eps[0].Address, "the TCP port's endpoint")
}
