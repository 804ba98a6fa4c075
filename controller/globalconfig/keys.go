package globalconfig

import (
	"fmt"
	"sort"
	"strings"
)

// Scope says when and how a key takes effect (see the package comment).
type Scope string

const (
	ScopeRoute       Scope = "route"
	ScopeGlobal      Scope = "global"
	ScopeStart       Scope = "start"
	ScopeListener    Scope = "listener"
	ScopeCompression Scope = "compression"
	ScopeErrors      Scope = "errors"
	ScopeNoOp        Scope = "no-op"
	ScopeRefused     Scope = "refused"
	ScopeMissing     Scope = "not implemented"
)

// Key is one ingress-nginx ConfigMap key and Weir's answer to it.
type Key struct {
	Name string
	// Default is ingress-nginx's default ("" for none).
	Default string
	Scope   Scope
	// Weir is Weir's behaviour, one sentence for docs/configmap.md and
	// `weir migrate`.
	Weir string
	// Same lists the values (lower case, single spaces) that match what
	// Weir does, for ScopeRefused and ScopeMissing keys: any other value is
	// a problem.
	Same []string
	// set applies a valid value (ScopeRoute, ScopeGlobal, ScopeCompression,
	// ScopeErrors) and returns an error for an invalid one.
	set func(c *Config, v string) error
	// start applies a valid ScopeStart or ScopeListener value.
	start func(s *Start, v string) error
}

// Live reports whether Weir reads the key's value (rather than accepting
// it as a no-op, refusing it, or not implementing it yet).
func (k Key) Live() bool { return k.set != nil || k.start != nil }

// Check validates v without applying it.
func (k Key) Check(v string) error {
	switch {
	case k.set != nil:
		return k.set(Defaults(), v)
	case k.start != nil:
		return k.start(&Start{}, v)
	case k.Scope == ScopeRefused || k.Scope == ScopeMissing:
		if k.same(v) {
			return nil
		}
		return fmt.Errorf("%s: %s", quote(v), k.Weir)
	}
	return nil
}

func (k Key) same(v string) bool {
	n := strings.ToLower(strings.Join(strings.Fields(v), " "))
	for _, s := range k.Same {
		if n == s {
			return true
		}
	}
	return false
}

var registry = map[string]Key{}

func register(ks ...Key) {
	for _, k := range ks {
		if _, dup := registry[k.Name]; dup {
			panic("globalconfig: key registered twice: " + k.Name) // programming error, caught by every test
		}
		registry[k.Name] = k
	}
}

// Lookup returns the registry entry of a ConfigMap key.
func Lookup(name string) (Key, bool) {
	k, ok := registry[name]
	return k, ok
}

// Keys returns every known key, sorted by name.
func Keys() []Key {
	out := make([]Key, 0, len(registry))
	for _, k := range registry {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// route is a key that sets the default of the annotation of the same name.
func route(name, def, weir string) Key {
	return Key{Name: name, Default: def, Scope: ScopeRoute, Weir: weir, set: func(c *Config, v string) error {
		if err := annotationValue(name, v); err != nil {
			return err
		}
		c.AnnotationDefaults[name] = v
		return nil
	}}
}

func noop(weir string, names ...string) []Key {
	out := make([]Key, 0, len(names))
	for _, n := range names {
		out = append(out, Key{Name: n, Scope: ScopeNoOp, Weir: weir})
	}
	return out
}

func missing(name, weir string, same ...string) Key {
	return Key{Name: name, Scope: ScopeMissing, Weir: weir, Same: same}
}

func refused(name, weir string, same ...string) Key {
	return Key{Name: name, Scope: ScopeRefused, Weir: weir, Same: same}
}
