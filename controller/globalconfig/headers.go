package globalconfig

import (
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// Headers are the header keys: ConfigMaps of headers set on every Ingress
// path (read by translation from the ConfigMaps they name, which are
// watched, so an edit of one applies live), and the headers custom-headers
// may set.
type Headers struct {
	// Add is add-headers: "namespace/name" of a ConfigMap whose headers
	// are set on every response to clients ("": none).
	Add string
	// ProxySet is proxy-set-headers: "namespace/name" of a ConfigMap whose
	// headers are set on every request to backends ("": none).
	ProxySet string
	// AllowedResponse is global-allowed-response-headers: the header names
	// an Ingress's custom-headers ConfigMap may set (none by default).
	AllowedResponse []string
}

var objectNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$`)

// parseConfigMapRef reads "namespace/name"; "" names none.
func parseConfigMapRef(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	ns, name, ok := strings.Cut(v, "/")
	if !ok || !objectNameRE.MatchString(ns) || !objectNameRE.MatchString(name) {
		return "", fmt.Errorf("%s is not a ConfigMap's namespace/name", quote(v))
	}
	return v, nil
}

// parseHeaderNames reads a comma list of header names.
func parseHeaderNames(v string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !httpguts.ValidHeaderFieldName(s) {
			return nil, fmt.Errorf("%s is not a header name", quote(s))
		}
		out = append(out, s)
	}
	return out, nil
}

func headerKeys() []Key {
	return []Key{
		{Name: "add-headers", Scope: ScopeGlobal, Weir: "namespace/name of a ConfigMap whose headers are set on every response Weir proxies to clients on Ingress paths and from the default backend (an Ingress's custom-headers wins for the same name); the ConfigMap is watched",
			set: func(c *Config, v string) (err error) { c.Headers.Add, err = parseConfigMapRef(v); return err }},
		{Name: "proxy-set-headers", Scope: ScopeGlobal, Weir: "namespace/name of a ConfigMap whose headers are set on every request to backends of Ingress paths and to the default backend; the ConfigMap is watched",
			set: func(c *Config, v string) (err error) { c.Headers.ProxySet, err = parseConfigMapRef(v); return err }},
		{Name: "global-allowed-response-headers", Scope: ScopeGlobal, Weir: "comma list of the headers an Ingress's custom-headers ConfigMap may set; any other closes that Ingress's paths (503)",
			set: func(c *Config, v string) (err error) {
				c.Headers.AllowedResponse, err = parseHeaderNames(v)
				return err
			}},
	}
}
