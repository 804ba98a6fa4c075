package translate

import (
	"maps"

	"weir.dev/weir/annotations"
)

// withDefaults adds the global ConfigMap's annotation defaults
// (Options.AnnotationDefaults) that an Ingress's annotations do not set:
// the Ingress's own value wins, as in ingress-nginx.
func (t *translator) withDefaults(ann map[string]string) map[string]string {
	defs := t.opts.AnnotationDefaults
	if len(defs) == 0 {
		return ann
	}
	out := maps.Clone(ann)
	if out == nil {
		out = make(map[string]string, len(defs))
	}
	for k, v := range defs {
		if _, set := out[annotations.Prefix+k]; !set {
			out[annotations.Prefix+k] = v
		}
	}
	return out
}

// ingressDefaults is the configuration of an Ingress without annotations:
// Weir's defaults overridden by the ConfigMap's. The Gateway API side keeps
// Weir's defaults (defaultConfig).
func (t *translator) ingressDefaults() *annotations.Config {
	if len(t.opts.AnnotationDefaults) == 0 {
		return t.defaultConfig()
	}
	if t.ingDefs == nil {
		t.ingDefs, _ = annotations.Parse(t.withDefaults(nil))
	}
	return t.ingDefs
}

// hsts is the Strict-Transport-Security value of TLS hosts.
func (t *translator) hsts() string {
	switch {
	case t.opts.DisableHSTS:
		return ""
	case t.opts.HSTS != "":
		return t.opts.HSTS
	}
	return HSTS
}
