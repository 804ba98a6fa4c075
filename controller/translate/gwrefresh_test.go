package translate_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	. "weir.dev/weir/controller/translate"
)

// TestRefreshRoutesEqualsAFullRebuild is the property test of the route
// fast path: after random route changes (added, removed, moved to other
// Gateways, new hostnames, paths, backends), RefreshRoutes gives exactly the
// listener tables, status and problems of a full translation, and keeps the
// listeners of Gateways no changed route touches.
func TestRefreshRoutesEqualsAFullRebuild(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	in := gatewayBenchInputs(12, 4)
	prev := Translate(in, 1)
	for step := 2; step < 200; step++ {
		var changed []ObjectRef
		for n := r.IntN(3) + 1; n > 0; n-- {
			changed = append(changed, mutateRoute(r, in, step))
		}
		got, ok := RefreshRoutes(prev, in, changed, uint64(step))
		require.True(t, ok)
		want := Translate(in, uint64(step))
		require.Equal(t, dumpListeners(want), dumpListeners(got), "step %d changed %v", step, changed)
		require.Equal(t, dumpStatus(t, want), dumpStatus(t, got), "step %d", step)
		require.Equal(t, FormatProblems(want.Problems), FormatProblems(got.Problems), "step %d", step)
		require.True(t, got.GatewaysOnly)
		require.Same(t, prev.Table, got.Table, "the Ingress side is untouched")
		kept := 0
		for _, gl := range got.GatewayListeners {
			for _, old := range prev.GatewayListeners {
				if gl == old {
					kept++
				}
			}
		}
		require.Positive(t, kept, "step %d: untouched Gateways keep their listeners", step)
		if step%50 == 0 {
			prev = want // also refresh from a full result now and then
		} else {
			prev = got
		}
	}
}

// mutateRoute changes, adds or removes one HTTPRoute and names it.
func mutateRoute(r *rand.Rand, in *Inputs, step int) ObjectRef {
	i := r.IntN(len(in.HTTPRoutes))
	rt := in.HTTPRoutes[i]
	switch r.IntN(6) {
	case 0: // remove
		in.HTTPRoutes = append(in.HTTPRoutes[:i:i], in.HTTPRoutes[i+1:]...)
	case 1: // add a new one on a random Gateway
		gw := in.Gateways[r.IntN(len(in.Gateways))]
		nr := benchRoute(gw.Namespace, fmt.Sprintf("new-%d", step), gw.Name, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(step)*time.Minute))
		nr.Spec.Rules[0].BackendRefs[0].Name = gatewayv1.ObjectName(in.Services[r.IntN(len(in.Services))].Name)
		in.HTTPRoutes = append(in.HTTPRoutes, nr)
		return ObjectRef{Kind: "HTTPRoute", Namespace: nr.Namespace, Name: nr.Name}
	case 2: // move to another Gateway (or to two)
		cp := rt.DeepCopy()
		gw := in.Gateways[r.IntN(len(in.Gateways))]
		cp.Spec.ParentRefs = []gatewayv1.ParentReference{{Name: gatewayv1.ObjectName(gw.Name), Namespace: ptr.To(gatewayv1.Namespace(gw.Namespace))}}
		if r.IntN(2) == 0 {
			other := in.Gateways[r.IntN(len(in.Gateways))]
			cp.Spec.ParentRefs = append(cp.Spec.ParentRefs, gatewayv1.ParentReference{Name: gatewayv1.ObjectName(other.Name),
				Namespace: ptr.To(gatewayv1.Namespace(other.Namespace))})
		}
		in.HTTPRoutes[i] = cp
	case 3: // a hostname shared with another route, or a wildcard
		cp := rt.DeepCopy()
		hosts := []gatewayv1.Hostname{"shared.example.com", "*.example.com", gatewayv1.Hostname(fmt.Sprintf("h%d.example.com", r.IntN(5)))}
		cp.Spec.Hostnames = []gatewayv1.Hostname{hosts[r.IntN(len(hosts))]}
		in.HTTPRoutes[i] = cp
	case 4: // a backend that is missing, or another Service
		cp := rt.DeepCopy()
		names := []string{"missing", in.Services[r.IntN(len(in.Services))].Name}
		cp.Spec.Rules[0].BackendRefs[0].Name = gatewayv1.ObjectName(names[r.IntN(2)])
		in.HTTPRoutes[i] = cp
	default: // another path, same age as another route
		cp := rt.DeepCopy()
		cp.Spec.Rules[1].Matches[0].Path.Value = ptr.To(fmt.Sprintf("/p%d", r.IntN(3)))
		cp.CreationTimestamp = metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		in.HTTPRoutes[i] = cp
	}
	return ObjectRef{Kind: "HTTPRoute", Namespace: rt.Namespace, Name: rt.Name}
}

// BenchmarkRefreshRoutes is one HTTPRoute changed among 10,000 on 1,000
// Gateways.
func BenchmarkRefreshRoutes(b *testing.B) {
	in := gatewayBenchInputs(1000, 10)
	prev := Translate(in, 1)
	changed := []ObjectRef{{Kind: "HTTPRoute", Namespace: in.HTTPRoutes[500].Namespace, Name: in.HTTPRoutes[500].Name}}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	defer reportCPU(b, cpu)
	for i := 0; i < b.N; i++ {
		cp := in.HTTPRoutes[500].DeepCopy()
		cp.Spec.Rules[1].Matches[0].Path.Value = ptr.To(fmt.Sprintf("/v%d", i))
		in.HTTPRoutes[500] = cp
		res, ok := RefreshRoutes(prev, in, changed, uint64(i+2))
		if !ok || len(res.Problems) > 0 {
			b.Fatalf("ok %v problems %v", ok, res.Problems)
		}
	}
}

// TestBothFastPathsEqualAFullRebuild mixes Ingresses and Gateways and
// interleaves random EndpointSlice changes (Refresh) with route changes
// (RefreshRoutes, on the index Refresh left): every result equals a full
// translation, the Ingress table and every listener table alike.
func TestBothFastPathsEqualAFullRebuild(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	in := sampleInputs(10, 2)
	gws := gatewayBenchInputs(6, 3)
	in.GatewayClasses, in.Gateways, in.HTTPRoutes = gws.GatewayClasses, gws.Gateways, gws.HTTPRoutes
	in.Services = append(in.Services, gws.Services...)
	in.EndpointSlices = append(in.EndpointSlices, gws.EndpointSlices...)
	prev := Translate(in, 1)
	endpointRefreshes, routeRefreshes := 0, 0
	for step := 2; step < 300; step++ {
		var got *Result
		if r.IntN(3) == 0 {
			res, ok := RefreshRoutes(prev, in, []ObjectRef{mutateRoute(r, in, step)}, uint64(step))
			require.True(t, ok)
			got = res
			routeRefreshes++
		} else {
			changed, small := map[string]bool{}, &Inputs{}
			svc := in.Services[r.IntN(len(in.Services))]
			changed[svc.Namespace+"/"+svc.Name] = true
			s := randomSlice(r, svc.Namespace, svc.Name, step)
			in.EndpointSlices = replaceSlices(in.EndpointSlices, svc, s)
			small.Services, small.EndpointSlices = []*corev1.Service{svc}, []*discoveryv1.EndpointSlice{s}
			res, ok := Refresh(prev, small, changed, uint64(step))
			if !ok {
				prev = Translate(in, uint64(step))
				continue
			}
			got = res
			endpointRefreshes++
		}
		want := Translate(in, uint64(step))
		require.Equal(t, want.Table.Dump(), got.Table.Dump(), "step %d", step)
		require.Equal(t, dumpListeners(want), dumpListeners(got), "step %d", step)
		require.Equal(t, dumpStatus(t, want), dumpStatus(t, got), "step %d", step)
		require.Equal(t, FormatProblems(want.Problems), FormatProblems(got.Problems), "step %d", step)
		prev = got
	}
	require.Greater(t, endpointRefreshes, 50)
	require.Greater(t, routeRefreshes, 50)
}
