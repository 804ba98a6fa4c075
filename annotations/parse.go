package annotations

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// parser collects problems while reading one object's annotations.
type parser struct {
	ann      map[string]string
	problems []Problem
}

func (p *parser) get(name string) (string, bool) {
	v, ok := p.ann[Prefix+name]
	return v, ok
}

func (p *parser) problem(name, reason string, sev Severity, format string, args ...any) {
	p.problems = append(p.problems, Problem{Field: Prefix + name, Reason: reason, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

// boolean reads a strconv.ParseBool spelling; invalid values fall back.
func (p *parser) boolean(name string, def bool) bool {
	v, ok := p.get(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		p.problem(name, ReasonInvalidValue, Warning, "%q is not a boolean; using %t", v, def)
		return def
	}
	return b
}

// integer reads a base-10 integer in [min, MaxCount]; invalid values fall
// back.
func (p *parser) integer(name string, def, min int, reason string) int {
	return p.intRange(name, def, min, MaxCount, reason)
}

// intRange reads a base-10 integer in [min, max]; invalid or out-of-range
// values are a problem and fall back to def.
func (p *parser) intRange(name string, def, min, max int, reason string) int {
	v, ok := p.get(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil && !isOverflow(err) {
		p.problem(name, reason, Warning, "%q is not an integer; using %d", v, def)
		return def
	}
	switch {
	case (err == nil && n < min) || (err != nil && strings.HasPrefix(strings.TrimSpace(v), "-")):
		p.problem(name, reason, Warning, "%q is not an integer of at least %d; using %d", v, min, def)
		return def
	case err != nil || n > max:
		p.problem(name, reason, Warning, "%q is larger than %d; using %d", v, max, def)
		return def
	}
	return n
}

func isOverflow(err error) bool {
	var ne *strconv.NumError
	return errors.As(err, &ne) && ne.Err == strconv.ErrRange
}

// seconds reads whole seconds up to MaxTimeout ("60s" is invalid, as in
// ingress-nginx).
func (p *parser) seconds(name string, def time.Duration) time.Duration {
	return p.secondsUpTo(name, def, MaxTimeout)
}

func (p *parser) secondsUpTo(name string, def, max time.Duration) time.Duration {
	v, ok := p.get(name)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if (err != nil && !isOverflow(err)) || n < 0 {
		p.problem(name, ReasonInvalidValue, Warning, "%q is not a whole number of seconds; using %s", v, def)
		return def
	}
	if err != nil || n > int64(max/time.Second) {
		p.problem(name, ReasonInvalidValue, Warning, "%q seconds is more than %s; using %s", v, max, def)
		return def
	}
	return time.Duration(n) * time.Second
}

// wire reads a string annotation that ends up on the wire (a header, a
// request line, a redirect target, a cookie). An invalid value is a problem
// and reads as "": the annotation is ignored.
func (p *parser) wire(name string, valid func(string) bool, want string) string {
	return p.checked(name, ReasonInvalidValue, valid, "is not "+want, "the annotation is ignored")
}

// checked reads a string annotation that valid accepts; an invalid value is
// a problem ("<value> <complaint>; <consequence>") and reads as "".
func (p *parser) checked(name, reason string, valid func(string) bool, complaint, consequence string) string {
	v, ok := p.get(name)
	if !ok || v == "" {
		return ""
	}
	if !valid(v) {
		p.problem(name, reason, Warning, "%s %s; %s", quoteShort(v), complaint, consequence)
		return ""
	}
	return v
}

// quoteShort quotes a value for a problem message, cut to 100 bytes.
func quoteShort(v string) string {
	if len(v) > 100 {
		return strconv.Quote(v[:100]) + "..."
	}
	return strconv.Quote(v)
}

// Parse reads the annotations of an ordinary (non-canary) Ingress. The
// canary annotations are read too, so that a canary Ingress is recognised;
// use ParseCanary for one.
func Parse(ann map[string]string) (*Config, []Problem) {
	p := &parser{ann: ann}
	c := &Config{}
	p.canary(c)
	p.routing(c)
	p.upstream(c)
	p.redirects(c)
	p.sourceRanges(c)
	p.access(c)
	p.headers(c)
	p.errorPages(c)
	p.mirror(c)
	p.health(c)
	c.SSLPassthrough = p.boolean("ssl-passthrough", false) // passthrough.go
	if p.check(false) {
		c.DenyAll = true
	}
	p.checkWeir()
	sortProblems(p.problems)
	return c, p.problems
}

// ParseCanary reads a canary Ingress: only the canary annotations,
// load-balance, upstream-hash-by and affinity-canary-behavior; every other
// annotation is ignored without a problem (the main Ingress owns the route).
func ParseCanary(ann map[string]string) (*Config, []Problem) {
	p := &parser{ann: ann}
	c := &Config{}
	p.canary(c)
	p.balance(c)
	p.check(true)
	sortProblems(p.problems)
	return c, p.problems
}

// IsCanary reports whether the annotations mark a canary Ingress, with the
// same spellings Parse accepts.
func IsCanary(ann map[string]string) bool {
	b, err := strconv.ParseBool(strings.TrimSpace(ann[Prefix+"canary"]))
	return err == nil && b
}

// check reports unknown, unsupported and snippet annotations. It returns true
// when an access-restricting annotation is present that Weir cannot enforce:
// the caller then closes every path of the Ingress.
func (p *parser) check(canary bool) (closed bool) {
	for k := range p.ann {
		name, ok := strings.CutPrefix(k, Prefix)
		if !ok {
			continue
		}
		e, known := entries[name]
		switch {
		case (known && e.Snippet) || (!known && isSnippet(name)):
			p.problem(name, ReasonSnippetRejected, Warning, "snippet annotations are never supported (configuration injection); the value is ignored")
		case !known:
			p.problem(name, ReasonUnknownAnnotation, Warning, "unknown annotation; it has no effect%s", suggestion(name, Prefix, entries))
		case canary && !e.OnCanary:
			// ignored on a canary Ingress by design
		case !e.Supported && e.FailClosed:
			p.problem(name, ReasonUnenforceableAccess, Error, "Weir cannot enforce this access restriction yet; every path of the Ingress answers 503 (fail closed)")
			closed = true
		case !e.Supported:
			p.problem(name, ReasonUnsupportedAnnotation, Warning, "Weir does not implement this annotation yet: %s", e.Consequence)
		}
	}
	return closed
}

func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Field != ps[j].Field {
			return ps[i].Field < ps[j].Field
		}
		return ps[i].Reason < ps[j].Reason
	})
}
