package translate

import (
	"slices"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"weir.dev/weir/proxy/table"
)

// Refresh is the endpoint-only fast path. prev must come from Translate on
// inputs that differ from the current ones only in the EndpointSlices of
// the Services named in changed ("namespace/name"); in must hold at least
// those Services and all of their EndpointSlices (it may hold nothing
// else). Refresh re-resolves the endpoints of the backends of those
// Services and returns a result equal to a full Translate's.
//
// When no backend's endpoints changed (a Service no route uses, or a
// change that does not matter) it returns prev itself.
//
// It declines (ok false) when a backend gains its first endpoint or loses
// its last one, because problems and 503 explanations change then; the
// caller rebuilds in full. A property test checks the equality.
//
// The table is immutable and table.New writes indexes into routes and
// backends, so every route, action and backend is copied (shallowly): the
// previous table stays untouched for the requests still using it.
func Refresh(prev *Result, in *Inputs, changed map[string]bool, generation uint64) (*Result, bool) {
	if prev == nil || prev.Table == nil {
		return nil, false
	}
	t := newTranslator(in)
	type svcKey struct{ ns, name string }
	dirty := make(map[svcKey]bool, len(changed))
	for k := range changed {
		ns, name, _ := strings.Cut(k, "/")
		dirty[svcKey{ns, name}] = true
	}
	old := prev.Table.Backends()
	backends := make([]table.Backend, len(old))
	moved := false
	for i, b := range old {
		backends[i] = *b
		if dirty[svcKey{b.Namespace, b.Service}] {
			res := t.resolve(b.Namespace, &networkingv1.IngressServiceBackend{Name: b.Service, Port: portRef(b.Port)})
			if (len(res.endpoints) == 0) != (len(b.Endpoints) == 0) {
				return nil, false
			}
			moved = moved || !slices.Equal(res.endpoints, b.Endpoints)
			backends[i].Endpoints = res.endpoints
		}
	}
	if !moved {
		return prev, true // no backend's endpoints changed: prev stays in service
	}
	c := &cloner{backends: backends, done: make(map[*table.Action]*table.Action, prev.Table.Len()+1),
		actions: make([]table.Action, 0, prev.Table.Len()+1)}
	oldRoutes := prev.Table.Routes()
	copies := make([]table.Route, len(oldRoutes))
	routes := make([]*table.Route, len(oldRoutes))
	for i, r := range oldRoutes {
		copies[i] = *r
		nr := &copies[i]
		nr.Action = c.action(r.Action)
		if len(r.Headers) > 0 {
			nr.Headers = append([]table.HeaderMatch(nil), r.Headers...)
		}
		if len(r.Query) > 0 {
			nr.Query = append([]table.QueryMatch(nil), r.Query...)
		}
		routes[i] = nr
	}
	tb, err := table.New(generation, routes, c.action(prev.Table.Default()))
	if err != nil {
		return nil, false
	}
	return &Result{Table: tb, Certificates: prev.Certificates, DefaultCertificate: prev.DefaultCertificate, Problems: prev.Problems}, true
}

// cloner copies actions once each (routes that shared one keep sharing the
// copy) and points them at the copied backends, found by their dense index.
type cloner struct {
	backends []table.Backend
	done     map[*table.Action]*table.Action
	actions  []table.Action // backing store, allocated once
}

func (c *cloner) backend(b *table.Backend) *table.Backend {
	if b == nil {
		return nil
	}
	return &c.backends[b.Index()]
}

func (c *cloner) action(a *table.Action) *table.Action {
	if a == nil {
		return nil
	}
	if na, ok := c.done[a]; ok {
		return na
	}
	var na *table.Action
	if len(c.actions) < cap(c.actions) {
		c.actions = append(c.actions, *a)
		na = &c.actions[len(c.actions)-1]
	} else {
		cp := *a
		na = &cp
	}
	na.Split.Main = c.backend(a.Split.Main)
	if cn := a.Split.Canary; cn != nil {
		nc := *cn
		nc.Backend = c.backend(cn.Backend)
		na.Split.Canary = &nc
	}
	if len(a.Split.Weighted) > 0 {
		na.Split.Weighted = make([]table.WeightedBackend, len(a.Split.Weighted))
		for i, w := range a.Split.Weighted {
			na.Split.Weighted[i] = table.WeightedBackend{Backend: c.backend(w.Backend), Weight: w.Weight}
		}
	}
	c.done[a] = na
	return na
}

// portRef turns a backend's port label back into a Service port reference:
// Service port names always hold a letter, numbers never do.
func portRef(label string) networkingv1.ServiceBackendPort {
	if n, err := strconv.Atoi(label); err == nil {
		return networkingv1.ServiceBackendPort{Number: int32(n)}
	}
	return networkingv1.ServiceBackendPort{Name: label}
}
