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
// The new table comes from table.WithEndpoints: it shares every host, route,
// action and backend with the previous one, which stays untouched for the
// requests still using it; Result.EndpointsOnly names the backends whose
// endpoints changed, so the proxy rebuilds only their pools.
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
	moved := make(map[int][]table.Endpoint)
	var indices []int
	for _, b := range prev.Table.Backends() {
		if !dirty[svcKey{b.Namespace, b.Service}] {
			continue
		}
		res := t.resolve(b.Namespace, &networkingv1.IngressServiceBackend{Name: b.Service, Port: portRef(b.Port)})
		old := prev.Table.Endpoints(b)
		if (len(res.endpoints) == 0) != (len(old) == 0) {
			return nil, false
		}
		if !slices.Equal(res.endpoints, old) {
			moved[b.Index()] = res.endpoints
			indices = append(indices, b.Index())
		}
	}
	if len(moved) == 0 {
		return prev, true // no backend's endpoints changed: prev stays in service
	}
	return &Result{Table: prev.Table.WithEndpoints(generation, moved), Certificates: prev.Certificates,
		DefaultCertificate: prev.DefaultCertificate, Problems: prev.Problems, EndpointsOnly: indices}, true
}

// portRef turns a backend's port label back into a Service port reference:
// Service port names always hold a letter, numbers never do.
func portRef(label string) networkingv1.ServiceBackendPort {
	if n, err := strconv.Atoi(label); err == nil {
		return networkingv1.ServiceBackendPort{Number: int32(n)}
	}
	return networkingv1.ServiceBackendPort{Name: label}
}
