package translate

import (
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// objIndex holds the objects both front ends look up by "namespace/name":
// Services, their EndpointSlices (by the kubernetes.io/service-name label,
// sorted by name) and Secrets. A Result keeps its index so that the fast
// paths need not index every object again: Refresh layers the Services it
// was given over the previous index, RefreshRoutes reuses it as is.
type objIndex struct {
	services map[string]*corev1.Service
	slices   map[string][]*discoveryv1.EndpointSlice
	secrets  map[string]*corev1.Secret
	parent   *objIndex
	depth    int
}

// maxIndexDepth bounds the chain of layers; a deeper one is flattened.
const maxIndexDepth = 16

func buildIndex(in *Inputs) *objIndex {
	x := &objIndex{
		services: make(map[string]*corev1.Service, len(in.Services)),
		slices:   make(map[string][]*discoveryv1.EndpointSlice, len(in.Services)),
		secrets:  make(map[string]*corev1.Secret, len(in.Secrets)),
	}
	for _, s := range in.Services {
		x.services[s.Namespace+"/"+s.Name] = s
	}
	x.addSlices(in.EndpointSlices, nil)
	for _, s := range in.Secrets {
		x.secrets[s.Namespace+"/"+s.Name] = s
	}
	return x
}

// addSlices indexes slices (only those of the Services in only, when set).
func (x *objIndex) addSlices(list []*discoveryv1.EndpointSlice, only map[string]bool) {
	for _, s := range list {
		if svc := s.Labels[discoveryv1.LabelServiceName]; svc != "" {
			k := s.Namespace + "/" + svc
			if only == nil || only[k] {
				x.slices[k] = append(x.slices[k], s)
			}
		}
	}
	for _, l := range x.slices {
		if len(l) > 1 {
			slices.SortFunc(l, func(a, b *discoveryv1.EndpointSlice) int { return strings.Compare(a.Name, b.Name) })
		}
	}
}

// overlay returns an index in which the Services named in changed
// ("namespace/name") and their slices are taken from in (absent ones are
// gone), everything else from x.
func (x *objIndex) overlay(in *Inputs, changed map[string]bool) *objIndex {
	o := &objIndex{services: make(map[string]*corev1.Service, len(changed)),
		slices: make(map[string][]*discoveryv1.EndpointSlice, len(changed)), parent: x, depth: x.depth + 1}
	for k := range changed {
		o.services[k], o.slices[k] = nil, nil
	}
	for _, s := range in.Services {
		if k := s.Namespace + "/" + s.Name; changed[k] {
			o.services[k] = s
		}
	}
	o.addSlices(in.EndpointSlices, changed)
	if o.depth > maxIndexDepth {
		return o.flatten()
	}
	return o
}

// flatten merges the layers into one.
func (x *objIndex) flatten() *objIndex {
	if x.parent == nil {
		return x
	}
	base := x.parent.flatten()
	f := &objIndex{services: maps.Clone(base.services), slices: maps.Clone(base.slices), secrets: base.secrets}
	maps.Copy(f.services, x.services)
	maps.Copy(f.slices, x.slices)
	return f
}

func (x *objIndex) service(key string) *corev1.Service {
	for ; x != nil; x = x.parent {
		if s, ok := x.services[key]; ok {
			return s
		}
	}
	return nil
}

func (x *objIndex) endpointSlices(key string) []*discoveryv1.EndpointSlice {
	for ; x != nil; x = x.parent {
		if s, ok := x.slices[key]; ok {
			return s
		}
	}
	return nil
}

func (x *objIndex) secret(key string) *corev1.Secret {
	for ; x != nil; x = x.parent {
		if s, ok := x.secrets[key]; ok {
			return s
		}
	}
	return nil
}
