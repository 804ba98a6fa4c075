package translate_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/utils/ptr"

	. "weir.dev/weir/controller/translate"
)

// randomSlice gives a Service a slice of random endpoints with random
// conditions (sometimes none at all).
func randomSlice(r *rand.Rand, ns, svc string, gen int) *discoveryv1.EndpointSlice {
	s := sampleSlice(ns, svc, 0, 0)
	s.Name = fmt.Sprintf("%s-%d", svc, r.IntN(2))
	opt := func() *bool {
		switch r.IntN(3) {
		case 0:
			return nil
		case 1:
			return ptr.To(true)
		}
		return ptr.To(false)
	}
	for e := r.IntN(4); e > 0; e-- {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{fmt.Sprintf("10.9.%d.%d", gen%250, r.IntN(250)+1)},
			Conditions: discoveryv1.EndpointConditions{Ready: opt(), Serving: opt(), Terminating: opt()},
		})
	}
	return s
}

// TestRefreshEqualsAFullRebuild is the property test of the endpoint-only
// fast path: after random EndpointSlice changes, Refresh either declines or
// gives exactly the table and problems a full translation gives.
func TestRefreshEqualsAFullRebuild(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	in := sampleInputs(40, 2)
	prev := Translate(in, 1)
	require.NotNil(t, prev.Table)
	refreshed := 0
	for step := 2; step < 300; step++ {
		changed := map[string]bool{}
		small := &Inputs{}
		for n := r.IntN(3) + 1; n > 0; n-- {
			i := r.IntN(len(in.Services))
			svc := in.Services[i]
			key := svc.Namespace + "/" + svc.Name
			changed[key] = true
			in.EndpointSlices = replaceSlices(in.EndpointSlices, svc, randomSlice(r, svc.Namespace, svc.Name, step))
		}
		for _, s := range in.Services {
			if changed[s.Namespace+"/"+s.Name] {
				small.Services = append(small.Services, s)
			}
		}
		for _, s := range in.EndpointSlices {
			if changed[s.Namespace+"/"+s.Labels[discoveryv1.LabelServiceName]] {
				small.EndpointSlices = append(small.EndpointSlices, s)
			}
		}
		full := Translate(in, uint64(step))
		fast, ok := Refresh(prev, small, changed, uint64(step))
		if ok {
			refreshed++
			require.Equal(t, full.Table.Dump(), fast.Table.Dump(), "step %d", step)
			require.Equal(t, FormatProblems(full.Problems), FormatProblems(fast.Problems), "step %d", step)
			if fast != prev {
				require.Equal(t, full.Table.Generation(), fast.Table.Generation())
			}
			prev = fast
		} else {
			prev = full
		}
	}
	require.Greater(t, refreshed, 50, "the fast path is taken for most endpoint changes")
}

// replaceSlices drops a Service's slices and adds s.
func replaceSlices(all []*discoveryv1.EndpointSlice, svc *corev1.Service, s *discoveryv1.EndpointSlice) []*discoveryv1.EndpointSlice {
	out := all[:0:0]
	for _, x := range all {
		if x.Namespace != svc.Namespace || x.Labels[discoveryv1.LabelServiceName] != svc.Name {
			out = append(out, x)
		}
	}
	return append(out, s)
}

func TestRefreshLeavesThePreviousTableAlone(t *testing.T) {
	in := sampleInputs(3, 1)
	prev := Translate(in, 1)
	before := prev.Table.Dump()
	svc := in.Services[0]
	s := sampleSlice(svc.Namespace, svc.Name, 200, 2)
	fast, ok := Refresh(prev, &Inputs{Services: []*corev1.Service{svc}, EndpointSlices: []*discoveryv1.EndpointSlice{s}},
		map[string]bool{svc.Namespace + "/" + svc.Name: true}, 2)
	require.True(t, ok)
	require.Equal(t, before, prev.Table.Dump())
	require.NotEqual(t, before, fast.Table.Dump())
}

// go test ./controller/translate -run '^$' -bench Refresh -benchtime 20x
func BenchmarkRefresh10000(b *testing.B) {
	in := sampleInputs(10000, 5)
	prev := Translate(in, 1)
	svc := in.Services[len(in.Services)/2]
	changed := map[string]bool{svc.Namespace + "/" + svc.Name: true}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := sampleSlice(svc.Namespace, svc.Name, i, 5)
		if _, ok := Refresh(prev, &Inputs{Services: []*corev1.Service{svc}, EndpointSlices: []*discoveryv1.EndpointSlice{s}}, changed, uint64(i+2)); !ok {
			b.Fatal("declined")
		}
	}
}
