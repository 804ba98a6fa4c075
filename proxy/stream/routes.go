package stream

import (
	"math/rand/v2"
	"strings"
)

// Target is where the connections of one passthrough host or TCP service
// go: a backend's endpoint addresses ("ip:port"), tried from a random start.
type Target struct {
	// Name names the backend in logs and metrics, for example
	// "default/web:443".
	Name  string
	Addrs []string
}

// order returns the addresses to try, starting at a random one, so that
// connections spread over the endpoints and a dead one is stepped over.
func (t *Target) order() []string {
	n := len(t.Addrs)
	if n <= 1 {
		return t.Addrs
	}
	i := rand.IntN(n)
	out := make([]string, 0, n)
	out = append(out, t.Addrs[i:]...)
	return append(out, t.Addrs[:i]...)
}

// Routes map TLS server names to passthrough targets. They are immutable
// once built; the listener swaps them whole.
type Routes struct {
	exact    map[string]*Target
	wildcard map[string]*Target // keyed by the suffix after "*."
}

// NewRoutes builds routes from host names: exact lower-case names or
// one-label wildcards such as "*.example.com". An exact name with a nil
// target is not passed through, even under a wildcard.
func NewRoutes(hosts map[string]*Target) *Routes {
	r := &Routes{exact: map[string]*Target{}, wildcard: map[string]*Target{}}
	for h, t := range hosts {
		h = strings.ToLower(h)
		if suffix, ok := strings.CutPrefix(h, "*."); ok {
			r.wildcard[suffix] = t
		} else {
			r.exact[h] = t
		}
	}
	return r
}

// Len is the number of hosts.
func (r *Routes) Len() int {
	if r == nil {
		return 0
	}
	return len(r.exact) + len(r.wildcard)
}

// Lookup finds the target of a server name: the exact host first, then the
// wildcard covering exactly one more label ("*.example.com" takes
// "a.example.com", never "a.b.example.com" or "example.com"), as Ingress
// host wildcards do. nil: the connection is not passed through.
func (r *Routes) Lookup(name string) *Target {
	if r == nil || name == "" {
		return nil
	}
	if t, ok := r.exact[name]; ok {
		return t
	}
	if _, suffix, ok := strings.Cut(name, "."); ok {
		return r.wildcard[suffix]
	}
	return nil
}
