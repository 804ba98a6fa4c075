package annotations

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"weir.dev/weir/proxy/wire"
)

// ConfigMapRef names a ConfigMap of headers (auth-proxy-set-headers,
// custom-headers). Namespace is "" when the value was a bare name: the
// Ingress's own. Translation reads only the Ingress's own namespace.
type ConfigMapRef struct {
	Namespace, Name string
}

func (r ConfigMapRef) String() string {
	if r.Namespace == "" {
		return r.Name
	}
	return r.Namespace + "/" + r.Name
}

// HeaderField is one header of a headers ConfigMap: an empty Value removes
// the header instead of setting it, as nginx does with an empty value.
type HeaderField struct{ Name, Value string }

// HeaderUse says where the headers of a ConfigMap are written, which decides
// the variables a value may hold.
type HeaderUse int

const (
	// HeadersLiteral: values are sent as they are; a value holding an nginx
	// variable ($name) is refused, since ingress-nginx would expand it and
	// Weir cannot (custom-headers, add-headers, proxy-set-headers).
	HeadersLiteral HeaderUse = iota
	// HeadersAuth: values may hold the variables of auth-url (URLVariables),
	// expanded per request (auth-proxy-set-headers).
	HeadersAuth
)

// RefusedHeader reports whether configuration may not set or add the
// header name (any case): it frames the message, belongs to one hop, or
// routes it (wire.FramesOrRoutes, the list the proxy applies too;
// upstream-vhost sets Host). Headers ConfigMaps and the Gateway API's
// header filters are held to it.
func RefusedHeader(name string) bool { return wire.FramesOrRoutes(http.CanonicalHeaderKey(name)) }

// ParseHeaders validates the data of a headers ConfigMap, sorted by name.
// Every key must be an RFC 9110 token that frames nothing and every value
// printable ASCII (tabs and inner spaces allowed, never CR, LF or NUL),
// with only the variables use allows. Invalid entries are left out and
// described in errs, one per entry, in key order.
func ParseHeaders(data map[string]string, use HeaderUse) (fields []HeaderField, errs []error) {
	names := make([]string, 0, len(data))
	for k := range data {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := strings.TrimSpace(data[k])
		if err := checkHeader(k, v, use); err != nil {
			errs = append(errs, err)
			continue
		}
		fields = append(fields, HeaderField{Name: http.CanonicalHeaderKey(k), Value: v})
	}
	return fields, errs
}

func checkHeader(name, value string, use HeaderUse) error {
	switch {
	case !validHeaderName(name):
		return fmt.Errorf("key %s is not a header name", quoteShort(name))
	case RefusedHeader(name):
		return fmt.Errorf("header %s frames or routes the message and cannot be set", name)
	case !validHeaderValue(value):
		return fmt.Errorf("header %s: the value holds a control character (CR, LF, NUL or another)", name)
	}
	if !strings.Contains(value, "$") {
		return nil
	}
	if use == HeadersAuth && ValidURLTemplate(value, validHeaderValue) {
		return nil
	}
	if use == HeadersLiteral && !holdsVariable(value) {
		return nil
	}
	return fmt.Errorf("header %s: the value holds an nginx variable Weir does not expand here", name)
}

// holdsVariable reports "$" followed by a name or "{", which nginx reads as
// a variable.
func holdsVariable(s string) bool {
	for i := strings.IndexByte(s, '$'); i >= 0 && i < len(s)-1; {
		if c := s[i+1]; c == '{' || c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') {
			return true
		}
		next := strings.IndexByte(s[i+1:], '$')
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return false
}

// headersConfigMap reads an annotation naming a headers ConfigMap ("name" or
// "namespace/name"); a value that is not a ConfigMap name is a problem and
// closes every path (DenyAll), as ingress-nginx denies the location, and
// valid is false. Unset: nil, true.
func (p *parser) headersConfigMap(c *Config, name string) (_ *ConfigMapRef, valid bool) {
	v, ok := p.get(name)
	if !ok || strings.TrimSpace(v) == "" {
		return nil, true
	}
	ns, n, ok := secretRef(v)
	if !ok {
		p.problem(name, ReasonInvalidValue, Error, "%s is not a ConfigMap name (namespace/name); every path of the Ingress answers 503 (fail closed)", quoteShort(v))
		c.DenyAll = true
		return nil, false
	}
	return &ConfigMapRef{Namespace: ns, Name: n}, true
}

// headers reads custom-headers.
func (p *parser) headers(c *Config) {
	c.CustomHeaders, _ = p.headersConfigMap(c, "custom-headers")
}

func registerHeaders() {
	register(
		Entry{Name: "auth-proxy-set-headers", Scope: ScopeLocation, Risk: RiskMedium, Supported: true, FailClosed: true,
			Doc: "ConfigMap (the Ingress's namespace) whose data are headers set on the auth-url subrequest; values may hold auth-url's variables. Missing, or an invalid header: every path answers 503."},
		Entry{Name: "custom-headers", Scope: ScopeLocation, Risk: RiskMedium, Supported: true,
			Doc: "ConfigMap (the Ingress's namespace) whose data are headers set on every response to the client; each must be listed in the global ConfigMap's global-allowed-response-headers. Missing, an invalid or a disallowed header: every path answers 503."},
	)
}
