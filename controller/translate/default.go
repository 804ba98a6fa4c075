package translate

import (
	"strings"

	"weir.dev/weir/proxy/table"
)

// addDefaultBackendService makes --default-backend-service answer requests
// that no rule matches, unless an Ingress's spec.defaultBackend already
// does. Its first port is used.
func (t *translator) addDefaultBackendService() {
	ref := t.opts.DefaultBackendService
	if ref == "" || t.def != nil {
		return
	}
	ns, name, ok := strings.Cut(ref, "/")
	owner := ObjectRef{Kind: "Service", Namespace: ns, Name: name}
	if !ok {
		t.problemAt(owner, "--default-backend-service", ReasonServiceNotFound, Warning, "%q is not namespace/name", ref)
		return
	}
	svc := t.idx.service(ref)
	if svc == nil || len(svc.Spec.Ports) == 0 {
		t.problemAt(owner, "--default-backend-service", ReasonServiceNotFound, Warning, "default backend service %s not found or has no port; using the built-in 404", ref)
		return
	}
	res := t.resolve(ns, name, svcPort{Number: svc.Spec.Ports[0].Port})
	b := &table.Backend{Name: ref + ":" + res.portName, Namespace: ns, Service: name, Port: res.portName,
		Endpoints: res.endpoints, Problem: res.problem,
		Passive: table.PassiveHealth{MaxFails: defaultMaxFails, Ejection: defaultEjection}}
	t.def = &table.Action{Split: table.Split{Main: b}}
}
