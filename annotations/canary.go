package annotations

import (
	"regexp"
	"strings"
)

// canaryAnnotations are the keys that make sense only with canary: "true".
var canaryAnnotations = []string{"canary-weight", "canary-weight-total", "canary-by-header",
	"canary-by-header-value", "canary-by-header-pattern", "canary-by-cookie"}

// canary reads the annotations docs/canary.md lists.
func (p *parser) canary(c *Config) {
	cn := &c.Canary
	cn.Enabled = p.boolean("canary", false)
	cn.WeightTotal = p.integer("canary-weight-total", 100, 1, ReasonInvalidCanaryWeight)
	// canary-weight is clamped into [0, total] below, as ingress-nginx does.
	cn.Weight = p.integer("canary-weight", 0, -1<<31, ReasonInvalidCanaryWeight)
	if cn.Weight < 0 || cn.Weight > cn.WeightTotal {
		clamped := min(max(cn.Weight, 0), cn.WeightTotal)
		p.problem("canary-weight", ReasonInvalidCanaryWeight, Warning, "weight %d is outside [0, %d]; using %d", cn.Weight, cn.WeightTotal, clamped)
		cn.Weight = clamped
	}
	cn.Header = p.name("canary-by-header", ReasonInvalidCanaryHeader)
	cn.HeaderValue = p.token("canary-by-header-value", ReasonInvalidCanaryHeader)
	if v, ok := p.get("canary-by-header-value"); ok && v != "" && cn.HeaderValue == "" {
		// The value was meant to select the canary; falling back to the
		// always/never mode would route on a meaning nobody asked for.
		cn.Header = ""
	}
	for _, k := range []string{"canary-by-header-value", "canary-by-header-pattern"} {
		if v, ok := p.get(k); ok && v != "" && cn.Header == "" {
			if _, hok := p.get("canary-by-header"); !hok {
				p.problem(k, ReasonInvalidCanaryHeader, Warning, "%s needs canary-by-header; it has no effect", k)
			}
		}
	}
	if v, ok := p.get("canary-by-header-pattern"); ok && v != "" {
		re, err := regexp.Compile(v)
		switch {
		case err != nil:
			p.problem("canary-by-header-pattern", ReasonInvalidCanaryPattern, Warning, "invalid regular expression (RE2): %v; the header-pattern rule is off", err)
		case cn.HeaderValue != "":
			p.problem("canary-by-header-pattern", ReasonCanaryValueAndPattern, Warning, "canary-by-header-value is set too; the value wins and the pattern is ignored")
		default:
			cn.HeaderPattern = re
		}
	}
	cn.Cookie = p.name("canary-by-cookie", ReasonInvalidCanaryCookie)
	if v, _ := p.get("affinity-canary-behavior"); v == "legacy" {
		cn.Legacy = true
	}
	if !cn.Enabled {
		for _, k := range canaryAnnotations {
			if _, ok := p.get(k); ok {
				p.problem("canary", ReasonCanaryAnnotationsWithoutFlag, Warning, "canary annotations are present but canary is not enabled; the Ingress is an ordinary one")
				break
			}
		}
	}
}

// token reads a header or cookie value: letters, digits and "-._~/:". An
// invalid one turns its rule off.
func (p *parser) token(name, reason string) string {
	return p.checked(name, reason, validToken, "may hold only letters, digits and -._~/:", "the rule is off")
}

// name reads a header or cookie name: an RFC 9110 token. An invalid one
// turns its rule off.
func (p *parser) name(name, reason string) string {
	return p.checked(name, reason, validHeaderName, "is not a header or cookie name (an RFC 9110 token)", "the rule is off")
}

func validToken(s string) bool {
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("-._~/:", r):
		default:
			return false
		}
	}
	return true
}
