package translate

import (
	"slices"
	"strconv"
	"strings"

	"weir.dev/weir/proxy/table"
)

// Refresh is the endpoint-only fast path, for both sources. prev must come
// from Translate on inputs that differ from the current ones only in the
// EndpointSlices of the Services named in changed ("namespace/name"); in
// must hold at least those Services and all of their EndpointSlices (it may
// hold nothing else). Refresh re-resolves the endpoints of the backends of
// those Services, in the Ingress table and in every Gateway listener's
// table, and returns a result equal to a full Translate's.
//
// When no backend's endpoints changed (a Service no route uses, or a
// change that does not matter) it returns prev itself.
//
// It declines (ok false) when a backend gains its first endpoint or loses
// its last one, because problems and 503 explanations change then; the
// caller rebuilds in full. A property test checks the equality.
//
// Every table of the new result (the Ingress one and each Gateway
// listener's) comes from table.WithEndpoints: it shares every host, route,
// action and backend with the previous one, which stays untouched for the
// requests still using it; Result.EndpointsOnly (and ListenerEndpointsOnly
// per Gateway listener) names the backends whose endpoints changed, never
// nil and possibly empty, so the proxy rebuilds only their pools.
func Refresh(prev *Result, in *Inputs, changed map[string]bool, generation uint64) (*Result, bool) {
	if prev == nil || prev.Table == nil {
		return nil, false
	}
	var idx *objIndex
	if prev.idx != nil && prev.idx.x != nil {
		idx = prev.idx.x
		idx.update(in, changed) // the latest objects, whatever Refresh returns
	} else {
		idx = buildIndex(in)
	}
	r := refresher{t: newTranslatorWith(in, idx), dirty: make(map[svcKey]bool, len(changed)), cache: make(map[string]resolved)}
	for k := range changed {
		ns, name, _ := strings.Cut(k, "/")
		r.dirty[svcKey{ns, name}] = true
	}
	if tcpServicesUse(prev, changed) { // tcpservices.go
		return nil, false
	}
	ingress, ingressIdx, ok := r.table(prev.Table, generation)
	if !ok {
		return nil, false
	}
	listeners := make([]*GatewayListener, len(prev.GatewayListeners))
	listenerIdx := make([][]int, len(prev.GatewayListeners))
	for i, gl := range prev.GatewayListeners {
		tb, idx, ok := r.table(gl.Table, generation)
		if !ok {
			return nil, false
		}
		cp := *gl
		cp.Table = tb
		listeners[i], listenerIdx[i] = &cp, idx
	}
	if !r.moved {
		return prev, true // no backend's endpoints changed: prev stays in service
	}
	res := *prev
	res.Table, res.EndpointsOnly = ingress, ingressIdx
	res.HostsChanged = nil
	res.GatewayListeners, res.ListenerEndpointsOnly = listeners, listenerIdx
	return &res, true
}

type svcKey struct{ ns, name string }

// refresher re-resolves the backends of dirty Services, each Service port
// once however many tables use it.
type refresher struct {
	t     *translator
	dirty map[svcKey]bool
	cache map[string]resolved
	moved bool
}

// table returns a table derived from tb with the changed endpoints of its
// backends and the indices of those backends; ok is false when a backend
// gains its first or loses its last endpoint.
func (r *refresher) table(tb *table.Table, generation uint64) (*table.Table, []int, bool) {
	moved := make(map[int][]table.Endpoint)
	var indices []int
	for _, b := range tb.Backends() {
		if b == nil || !r.dirty[svcKey{b.Namespace, b.Service}] {
			continue
		}
		key := b.Namespace + "/" + b.Service + ":" + b.Port
		res, ok := r.cache[key]
		if !ok {
			res = r.t.resolve(b.Namespace, b.Service, portRef(b.Port))
			r.cache[key] = res
		}
		old := tb.Endpoints(b)
		if (len(res.endpoints) == 0) != (len(old) == 0) {
			return nil, nil, false
		}
		if !slices.Equal(res.endpoints, old) {
			moved[b.Index()] = res.endpoints
			indices = append(indices, b.Index())
		}
	}
	if len(moved) > 0 {
		r.moved = true
	}
	if indices == nil {
		indices = []int{}
	}
	return tb.WithEndpoints(generation, moved), indices, true
}

// portRef turns a backend's port label back into a Service port reference:
// Service port names always hold a letter, numbers never do.
func portRef(label string) svcPort {
	if n, err := strconv.Atoi(label); err == nil {
		return svcPort{Number: int32(n)}
	}
	return svcPort{Name: label}
}
