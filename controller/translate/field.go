package translate

import "strconv"

// fieldRef names a field of an Ingress lazily: most paths have no problem,
// and formatting every field name up front was a tenth of a rebuild.
type fieldRef struct {
	base       string // used as is when rule < 0
	rule, path int    // path < 0: the rule itself
	suffix     string
}

func ruleField(rule int) fieldRef         { return fieldRef{rule: rule, path: -1} }
func pathField(rule, path int) fieldRef   { return fieldRef{rule: rule, path: path} }
func plainField(name string) fieldRef     { return fieldRef{base: name, rule: -1} }
func (f fieldRef) with(s string) fieldRef { f.suffix += s; return f }

func (f fieldRef) String() string {
	if f.rule < 0 {
		return f.base + f.suffix
	}
	s := "spec.rules[" + strconv.Itoa(f.rule) + "]"
	if f.path >= 0 {
		s += ".http.paths[" + strconv.Itoa(f.path) + "]"
	}
	return s + f.suffix
}
