package ratelimit

import (
	"strconv"
	"sync"
	"weak"
)

// registry keeps one Limiter per Ingress and configuration alive across
// table rebuilds, so that publishing a new table (any Ingress changed) does
// not reset every client's allowance. It holds weak pointers: a Limiter no
// published table uses any more is collected, and its entry swept.
var registry = struct {
	sync.Mutex
	m map[string]weak.Pointer[Limiter]
}{m: map[string]weak.Pointer[Limiter]{}}

// Shared returns the Limiter for id (for example "Ingress ns/name uid") and
// c: the same one as last time when neither changed.
func Shared(id string, c Config) *Limiter {
	c = normalize(c)
	key := id + "|" + describe(c) + "|" + strconv.Itoa(c.MaxClients)
	registry.Lock()
	defer registry.Unlock()
	if old := registry.m[key].Value(); old != nil {
		return old
	}
	for k, wp := range registry.m {
		if wp.Value() == nil {
			delete(registry.m, k)
		}
	}
	l := New(c)
	registry.m[key] = weak.Make(l)
	return l
}
