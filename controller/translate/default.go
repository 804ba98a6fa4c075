package translate

import (
	"strings"

	"weir.dev/weir/proxy/table"
)

// addDefaultBackendService makes --default-backend-service answer requests
// that no rule matches, unless an Ingress's spec.defaultBackend already
// does, and gives that default action its error pages and the global
// headers, as ingress-nginx's default server gets them.
func (t *translator) addDefaultBackendService() {
	t.defaultBackendService()
	t.defaultErrorPages()
	if t.def != nil && t.def.Split.Main != nil {
		t.addHeaders(t.def, nil) // the global add-headers and proxy-set-headers (headers.go)
	}
}

// defaultErrorPages applies custom-http-errors to the default action, as
// ingress-nginx's default server intercepts them too: an Ingress's
// spec.defaultBackend gets that Ingress's error pages (its annotations,
// else the global ConfigMap's); --default-backend-service gets the global
// custom-http-errors, its pages served by itself (with X-Code and the other
// headers), as ingress-nginx's custom error pages backend does.
func (t *translator) defaultErrorPages() {
	switch {
	case t.def == nil:
	case t.defOwner != nil:
		t.errorPages(t.defOwner, t.def)
	case len(t.opts.CustomHTTPErrors) > 0 && t.def.Split.Main != nil:
		t.def.ErrorPages = &table.ErrorPages{Backend: t.def.Split.Main, Codes: t.opts.CustomHTTPErrors}
	}
}

// defaultBackendService is --default-backend-service as the default
// action when no Ingress's spec.defaultBackend is; its first port is used.
func (t *translator) defaultBackendService() {
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
