package globalconfig

import (
	"fmt"
	"maps"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"weir.dev/weir/proxy/compress"
)

// Problem reasons (stable: Event reasons and metric labels).
const (
	ReasonInvalidValue    = "InvalidConfigMapValue"
	ReasonUnknownKey      = "UnknownConfigMapKey"
	ReasonNotImplemented  = "ConfigMapKeyNotImplemented"
	ReasonSnippetRejected = "SnippetRejected"
	ReasonRestartRequired = "ConfigMapRestartRequired"
)

// Problem is one key Weir could not honour as written.
type Problem struct {
	Key     string
	Reason  string
	Message string
}

// Defaults is the configuration of an empty ConfigMap: ingress-nginx's
// defaults for what Weir reads live, and nothing that overrides Weir's
// flags or annotation defaults.
func Defaults() *Config {
	c := &Config{AnnotationDefaults: map[string]string{}, start: map[string]string{}, compression: map[string]string{},
		ProxyProtocolTimeout: 5 * time.Second,
		LimitReqStatus:       503, LimitConnStatus: 503,
		Forwarded: Forwarded{Header: "X-Forwarded-For"},
	}
	c.hsts.on, c.hsts.subdomains, c.hsts.maxAge = true, true, 31536000
	c.fwd.cidrs = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}
	c.finish()
	return c
}

// finish derives the fields that depend on several keys.
func (c *Config) finish() {
	c.HSTS = ""
	if c.hsts.on {
		c.HSTS = "max-age=" + strconv.Itoa(c.hsts.maxAge)
		if c.hsts.subdomains {
			c.HSTS += "; includeSubDomains"
		}
		if c.hsts.preload {
			c.HSTS += "; preload"
		}
	}
	c.Compression, _ = compress.FromKeys(c.compression) // each value checked by its key
	c.Forwarded.Trusted = nil
	if c.fwd.use || c.fwd.realIP {
		c.Forwarded.Trusted = c.fwd.cidrs
	}
}

// build makes the configuration of values that are all valid.
func build(values map[string]string) *Config {
	c := Defaults()
	for name, v := range values {
		k := registry[name]
		switch {
		case k.set != nil:
			_ = k.set(c, v) // checked by the Tracker
		case k.start != nil:
			c.start[name] = v
		}
	}
	c.finish()
	return c
}

// ApplyStart overwrites the fields of s whose ScopeStart and ScopeListener
// keys the ConfigMap sets.
func (c *Config) ApplyStart(s *Start) {
	for name, v := range c.start {
		_ = registry[name].start(s, v) // checked by the Tracker
	}
}

// StartChanged lists, sorted, the ScopeStart keys whose values differ
// between c and since (set, changed or removed).
func (c *Config) StartChanged(since *Config) []string {
	var out []string
	for k, v := range c.start {
		if old, ok := since.start[k]; (!ok || old != v) && registry[k].Scope == ScopeStart {
			out = append(out, k)
		}
	}
	for k := range since.start {
		if _, ok := c.start[k]; !ok && registry[k].Scope == ScopeStart {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// Tracker applies successive versions of the ConfigMap, keeping for every
// key its last valid value. The zero value is ready; it is not safe for
// concurrent use.
type Tracker struct {
	good map[string]string
}

// Parse reads one ConfigMap's data on its own (no earlier version).
func Parse(data map[string]string) (*Config, []Problem) {
	var t Tracker
	return t.Apply(data)
}

// Apply reads the next version of the ConfigMap's data. An invalid value is
// a problem and its key keeps its previous valid value (or the default);
// unknown keys, refused and not implemented values are problems too.
func (t *Tracker) Apply(data map[string]string) (*Config, []Problem) {
	next := make(map[string]string, len(data))
	var ps []Problem
	for _, name := range sortedKeys(data) {
		v := data[name]
		k, ok := registry[name]
		if !ok {
			ps = append(ps, Problem{Key: name, Reason: ReasonUnknownKey, Message: "unknown key; it has no effect" + suggest(name)})
			continue
		}
		err := k.Check(v)
		if err == nil {
			if k.Live() {
				next[name] = v
			}
			continue
		}
		ps = append(ps, t.invalid(k, err))
		old, ok := t.good[name]
		if ok {
			next[name] = old
		}
		if blockKeys[name] {
			// A block list keeps enforcing its valid entries: one typo
			// must not unblock every client it names (fail closed).
			if keep := validEntries(k, v); keep != "" {
				if ok && old != "" {
					keep = old + "," + keep
				}
				next[name] = keep
			}
		}
	}
	t.good = next
	return build(maps.Clone(next)), ps
}

// blockKeys are the block lists whose valid entries stay in force when
// others are invalid.
var blockKeys = map[string]bool{"block-cidrs": true, "block-user-agents": true, "block-referers": true}

// validEntries is the comma list of the entries of v that k accepts alone.
func validEntries(k Key, v string) string {
	var keep []string
	for _, e := range strings.Split(v, ",") {
		if e = strings.TrimSpace(e); e != "" && k.Check(e) == nil {
			keep = append(keep, e)
		}
	}
	return strings.Join(keep, ",")
}

func (t *Tracker) invalid(k Key, err error) Problem {
	switch {
	case k.Scope == ScopeMissing:
		return Problem{Key: k.Name, Reason: ReasonNotImplemented, Message: "Weir does not implement this key yet: " + k.Weir}
	case k.Scope == ScopeRefused && k.Same == nil:
		return Problem{Key: k.Name, Reason: ReasonSnippetRejected, Message: k.Weir}
	case k.Scope == ScopeRefused:
		return Problem{Key: k.Name, Reason: ReasonInvalidValue, Message: err.Error()}
	}
	keep := "using the default"
	if old, ok := t.good[k.Name]; ok {
		keep = "keeping the last valid value " + quote(old)
	}
	if blockKeys[k.Name] {
		keep += " and the valid entries of this one"
	}
	return Problem{Key: k.Name, Reason: ReasonInvalidValue, Message: fmt.Sprintf("%v; %s", err, keep)}
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
