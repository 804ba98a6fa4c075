package translate

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// objIndex holds the objects both front ends look up by "namespace/name":
// Services, their EndpointSlices (by the kubernetes.io/service-name label,
// sorted by name) and Secrets. A Result keeps its index so that the fast
// paths need not index every object again: Refresh updates the entries of
// the Services it was given in place, RefreshRoutes reads it as is. The
// index is shared by a chain of results and always holds the latest objects
// the fast paths were given, so a chain is refreshed from one goroutine (the
// controller's translation loop).
type objIndex struct {
	services map[string]*corev1.Service
	slices   map[string][]*discoveryv1.EndpointSlice
	secrets  map[string]*corev1.Secret
}

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

// addSlices indexes slices (only those of the Services in only, when set)
// and sorts the lists it added to.
func (x *objIndex) addSlices(list []*discoveryv1.EndpointSlice, only map[string]bool) {
	var several []string
	for _, s := range list {
		if svc := s.Labels[discoveryv1.LabelServiceName]; svc != "" {
			k := s.Namespace + "/" + svc
			if only != nil && !only[k] {
				continue
			}
			x.slices[k] = append(x.slices[k], s)
			if len(x.slices[k]) == 2 {
				several = append(several, k)
			}
		}
	}
	for _, k := range several {
		slices.SortFunc(x.slices[k], func(a, b *discoveryv1.EndpointSlice) int { return strings.Compare(a.Name, b.Name) })
	}
}

// update replaces the Services named in changed ("namespace/name") and
// their slices with those in in (absent ones are removed).
func (x *objIndex) update(in *Inputs, changed map[string]bool) {
	for k := range changed {
		delete(x.services, k)
		delete(x.slices, k)
	}
	for _, s := range in.Services {
		if k := s.Namespace + "/" + s.Name; changed[k] {
			x.services[k] = s
		}
	}
	x.addSlices(in.EndpointSlices, changed)
}

func (x *objIndex) service(key string) *corev1.Service { return x.services[key] }

func (x *objIndex) endpointSlices(key string) []*discoveryv1.EndpointSlice { return x.slices[key] }

func (x *objIndex) secret(key string) *corev1.Secret { return x.secrets[key] }
