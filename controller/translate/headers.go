package translate

import (
	"net/http"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"weir.dev/weir/annotations"
	"weir.dev/weir/proxy/auth"
	"weir.dev/weir/proxy/table"
)

// Problem reasons of the headers ConfigMaps (auth-proxy-set-headers,
// custom-headers, and the global ConfigMap's add-headers and
// proxy-set-headers).
const (
	ReasonHeadersConfigMapNotFound = "HeadersConfigMapNotFound"
	ReasonInvalidHeadersConfigMap  = "InvalidHeadersConfigMap"
	ReasonHeaderNotAllowed         = "ResponseHeaderNotAllowed"
)

// headerState indexes Inputs.HeaderConfigMaps and keeps the global header
// edits, both made on first use.
type headerState struct {
	list   []*corev1.ConfigMap
	maps   map[string]*corev1.ConfigMap
	global *globalHeaders
}

// globalHeaders are the global ConfigMap's add-headers (responses) and
// proxy-set-headers (requests to backends), as edits of every Ingress route.
type globalHeaders struct {
	response, request []annotations.HeaderField
}

func (h *headerState) configMap(key string) *corev1.ConfigMap {
	if h.maps == nil {
		h.maps = make(map[string]*corev1.ConfigMap, len(h.list))
		for _, cm := range h.list {
			h.maps[cm.Namespace+"/"+cm.Name] = cm
		}
	}
	return h.maps[key]
}

// ownHeaders reads the headers ConfigMap an Ingress's annotation names, in
// the Ingress's own namespace. Another namespace, a missing ConfigMap or
// any invalid header is a problem and false: the caller closes the paths
// (503), as ingress-nginx denies the location.
func (t *translator) ownHeaders(p *parsed, annotation string, ref *annotations.ConfigMapRef, use annotations.HeaderUse) ([]annotations.HeaderField, bool) {
	field := "metadata.annotations[" + annotations.Prefix + annotation + "]"
	ns := p.ing.Namespace
	if ref.Namespace != "" && ref.Namespace != ns {
		t.problem(p, field, ReasonInvalidHeadersConfigMap, Error, "ConfigMap %s is in another namespace; only the Ingress's own namespace is read; every path of the Ingress answers 503", ref)
		return nil, false
	}
	key := ns + "/" + ref.Name
	cm := t.headers.configMap(key)
	if cm == nil {
		t.problem(p, field, ReasonHeadersConfigMapNotFound, Error, "ConfigMap %s not found; every path of the Ingress answers 503", key)
		return nil, false
	}
	fields, errs := annotations.ParseHeaders(cm.Data, use)
	for _, err := range errs {
		t.problem(p, field, ReasonInvalidHeadersConfigMap, Error, "ConfigMap %s: %v; every path of the Ingress answers 503", key, err)
	}
	return fields, len(errs) == 0
}

// authSetHeaders is auth-proxy-set-headers for the auth subrequest; false
// closes the paths.
func (t *translator) authSetHeaders(p *parsed, e *annotations.ExternalAuth) ([]auth.Header, bool) {
	if e.ProxySetHeaders == nil {
		return nil, true
	}
	fields, ok := t.ownHeaders(p, "auth-proxy-set-headers", e.ProxySetHeaders, annotations.HeadersAuth)
	out := make([]auth.Header, len(fields))
	for i, f := range fields {
		out[i] = auth.Header{Name: f.Name, Value: f.Value}
	}
	return out, ok
}

// customHeaders is custom-headers; false closes the paths. As in
// ingress-nginx, every header must be listed in the global ConfigMap's
// global-allowed-response-headers.
func (t *translator) customHeaders(p *parsed) ([]annotations.HeaderField, bool) {
	ref := p.cfg.CustomHeaders
	if ref == nil {
		return nil, true
	}
	fields, ok := t.ownHeaders(p, "custom-headers", ref, annotations.HeadersLiteral)
	for _, f := range fields {
		if !slices.ContainsFunc(t.opts.AllowedResponseHeaders, func(a string) bool { return strings.EqualFold(a, f.Name) }) {
			t.problem(p, "metadata.annotations["+annotations.Prefix+"custom-headers]", ReasonHeaderNotAllowed, Error,
				"ConfigMap %s/%s: header %s is not listed in the global ConfigMap's global-allowed-response-headers; every path of the Ingress answers 503", p.ing.Namespace, ref.Name, f.Name)
			ok = false
		}
	}
	return fields, ok
}

// globalHeaderEdits reads the global ConfigMap's add-headers and
// proxy-set-headers once per translation. Invalid entries are left out and
// reported on the global ConfigMap; a ConfigMap that is missing adds
// nothing (neither restricts access).
func (t *translator) globalHeaderEdits() *globalHeaders {
	if g := t.headers.global; g != nil {
		return g
	}
	g := &globalHeaders{}
	g.response = t.globalHeaders("add-headers", t.opts.AddHeaders)
	g.request = t.globalHeaders("proxy-set-headers", t.opts.ProxySetHeaders)
	t.headers.global = g
	return g
}

func (t *translator) globalHeaders(key, ref string) []annotations.HeaderField {
	if ref == "" {
		return nil
	}
	at := t.opts.GlobalConfigMap
	field := "data[" + key + "]"
	cm := t.headers.configMap(ref)
	if cm == nil {
		t.problemAt(at, field, ReasonHeadersConfigMapNotFound, Warning, "ConfigMap %s not found (or outside --watch-namespace); no headers are added", ref)
		return nil
	}
	fields, errs := annotations.ParseHeaders(cm.Data, annotations.HeadersLiteral)
	for _, err := range errs {
		t.problemAt(at, field, ReasonInvalidHeadersConfigMap, Warning, "ConfigMap %s: %v; that header is not added", ref, err)
	}
	return fields
}

// addHeaders sets a main route's header edits: the global proxy-set-headers
// on the request, the global add-headers and the Ingress's custom-headers
// (which win for the same name) on the response.
func (t *translator) addHeaders(a *table.Action, custom []annotations.HeaderField) {
	g := t.globalHeaderEdits()
	a.RequestHeaders = editsOf(g.request)
	if len(custom) == 0 {
		a.ResponseHeaders = editsOf(g.response)
		return
	}
	merged := make([]annotations.HeaderField, 0, len(g.response)+len(custom))
	for _, f := range g.response {
		if !slices.ContainsFunc(custom, func(c annotations.HeaderField) bool { return c.Name == f.Name }) {
			merged = append(merged, f)
		}
	}
	a.ResponseHeaders = editsOf(append(merged, custom...))
}

// editsOf turns header fields into edits: an empty value removes the
// header, as nginx sends none for an empty value.
func editsOf(fields []annotations.HeaderField) table.HeaderEdits {
	var e table.HeaderEdits
	for _, f := range fields {
		if f.Value == "" {
			e.Remove = append(e.Remove, f.Name)
		} else {
			e.Set = append(e.Set, table.Header{Name: http.CanonicalHeaderKey(f.Name), Value: f.Value})
		}
	}
	return e
}
