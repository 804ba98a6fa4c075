package translate

import (
	"net"
	"strconv"
	"strings"

	"weir.dev/weir/annotations"
	"weir.dev/weir/proxy/compress"
	"weir.dev/weir/proxy/table"
)

// The Ingress side of custom-http-errors, default-backend, mirror-target
// and the global compression settings: each fills a field of a main
// route's Action, so an Ingress without them leaves those fields nil and
// its requests pay one nil check each.

// ReasonDefaultBackendService is the problem of a default-backend (or the
// backend of custom-http-errors) that cannot answer.
const ReasonDefaultBackendService = "DefaultBackendServiceNotFound"

// extras holds what one translation shares between the Ingresses' actions:
// the error and mirror backends (one table backend per Service or URL)
// and the compression policy.
type extras struct {
	errorBackends  map[string]*table.Backend
	mirrorBackends map[string]*table.Backend
	compression    *compress.Policy
	compressionSet bool
}

// addExtras sets a main route's error pages, mirror and compression.
func (t *translator) addExtras(p *parsed, a *table.Action) {
	t.errorPages(p, a)
	if m := p.cfg.Mirror; m != nil {
		a.Mirrors = []table.Mirror{t.mirrorTo(m)}
	}
	a.Compression = t.compressionPolicy()
}

// errorPages fills a.ErrorPages: the Ingress's custom-http-errors (else
// the global list) served by its default-backend (else
// --default-backend-service); default-backend alone also takes the
// requests of Services without endpoints.
func (t *translator) errorPages(p *parsed, a *table.Action) {
	var codes []int
	var svc string
	if ep := p.cfg.ErrorPages; ep != nil {
		codes, svc = ep.Codes, ep.DefaultBackend
	}
	if codes == nil {
		codes = t.opts.CustomHTTPErrors
	}
	if len(codes) == 0 && svc == "" {
		return
	}
	field := "metadata.annotations[" + annotations.Prefix + "default-backend]"
	ns := p.ing.Namespace
	if svc == "" {
		field, svc = "--default-backend-service", t.opts.DefaultBackendService
		ns, svc, _ = strings.Cut(svc, "/")
	}
	if svc == "" {
		t.problem(p, "metadata.annotations["+annotations.Prefix+"custom-http-errors]", ReasonDefaultBackendService, Warning,
			"no default-backend annotation and no --default-backend-service: %s", withoutPages)
		return
	}
	b := t.errorBackend(p, field, ns, svc)
	if b == nil {
		return
	}
	a.ErrorPages = &table.ErrorPages{Backend: b, Codes: codes, Namespace: p.ing.Namespace, Ingress: p.ing.Name,
		Unavailable: p.cfg.ErrorPages != nil && p.cfg.ErrorPages.DefaultBackend != ""}
}

// errorBackend is the shared table backend of an error Service (its first
// port, as ingress-nginx); nil, with a problem, when the Service is missing.
func (t *translator) errorBackend(p *parsed, field, ns, name string) *table.Backend {
	key := ns + "/" + name
	if b, ok := t.extras.errorBackends[key]; ok {
		return b
	}
	svc := t.idx.service(key)
	if svc == nil || len(svc.Spec.Ports) == 0 {
		t.problem(p, field, ReasonDefaultBackendService, Warning, "Service %s not found or has no port: %s", key, withoutPages)
		return nil
	}
	res := t.resolve(ns, name, svcPort{Number: svc.Spec.Ports[0].Port})
	b := &table.Backend{Name: key + ":" + res.portName, Namespace: ns, Service: name, Port: res.portName,
		Endpoints: res.endpoints, Problem: res.problem, Timeouts: t.defaultTimeouts(),
		Passive: table.PassiveHealth{MaxFails: defaultMaxFails, Ejection: defaultEjection}}
	if t.extras.errorBackends == nil {
		t.extras.errorBackends = make(map[string]*table.Backend)
	}
	t.extras.errorBackends[key] = b
	return b
}

// mirrorTo is a mirror-target as a table mirror of every request: a
// backend with the URL's host as its one endpoint (a name is resolved when
// connecting), shared by every Ingress naming the same scheme, host and port.
func (t *translator) mirrorTo(m *annotations.Mirror) table.Mirror {
	tg := m.Target
	addr := tg.Address()
	proto := table.HTTP1
	if tg.HTTPS {
		proto = table.HTTPS
	}
	key := proto.String() + "://" + addr
	b := t.extras.mirrorBackends[key]
	if b == nil {
		b = &table.Backend{Name: "mirror-target " + key, Endpoints: []table.Endpoint{{Address: addr}}, Protocol: proto,
			Timeouts: t.defaultTimeouts()}
		if t.extras.mirrorBackends == nil {
			t.extras.mirrorBackends = make(map[string]*table.Backend)
		}
		t.extras.mirrorBackends[key] = b
	}
	host := m.Host
	if host == "" {
		host = tg.Host
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		if (tg.HTTPS && tg.Port != 443) || (!tg.HTTPS && tg.Port != 80) {
			host = net.JoinHostPort(tg.Host, strconv.Itoa(tg.Port))
		}
	}
	return table.Mirror{Backend: b, Target: &table.MirrorTarget{URI: tg.URI, Host: host, NoBody: !m.Body}}
}

// withoutPages says what an Ingress whose error backend is missing gets.
const withoutPages = "error responses reach the client unchanged and paths without endpoints answer 503"

// defaultTimeouts are the proxy-*-timeout defaults, for the backends no
// Ingress path names.
func (t *translator) defaultTimeouts() table.Timeouts {
	d := t.defaultConfig().Timeouts
	return table.Timeouts{Connect: d.Connect, Send: d.Send, Read: d.Read}
}

// compressionPolicy is the global compression policy, built once per
// translation; invalid settings compress nothing and are a problem.
func (t *translator) compressionPolicy() *compress.Policy {
	if t.extras.compressionSet {
		return t.extras.compression
	}
	t.extras.compressionSet = true
	p, err := compress.New(t.opts.Compression)
	if err != nil {
		t.problemAt(ObjectRef{Kind: "Configuration", Name: "compression"}, "compression", "InvalidCompression", Warning,
			"%v; responses are not compressed", err)
		return nil
	}
	t.extras.compression = p
	return p
}
