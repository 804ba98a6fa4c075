package auth

import (
	"crypto/sha256"
	"net/http"
	"strings"
	"sync"
	"time"

	"weir.dev/weir/annotations"
)

// KeyPart is one piece of an auth-cache-key template and CacheRule one
// group of auth-cache-duration, as the annotations package parses them.
type (
	KeyPart   = annotations.KeyPart
	CacheRule = annotations.CacheRule
)

// maxCached bounds the answers one External remembers.
const maxCached = 4096

// answer is what the auth service said, as far as a decision needs it.
type answer struct {
	status  int
	header  http.Header // the listed response headers and WWW-Authenticate
	cookies []string
	expires time.Time
}

// answerCache remembers answers per rendered key (nginx's proxy_cache of
// the auth location): bounded, expired entries dropped first.
type answerCache struct {
	key   []KeyPart
	rules []CacheRule
	mu    sync.Mutex
	m     map[string]answer
}

func (c *answerCache) get(key string, now time.Time) (answer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, ok := c.m[key]
	if ok && now.After(a.expires) {
		delete(c.m, key)
		ok = false
	}
	return a, ok
}

// put keeps a when a rule covers its status; answers that set cookies are
// never cached, as nginx's proxy_cache does not cache them.
func (c *answerCache) put(key string, a answer, now time.Time) {
	ttl := c.ttl(a.status)
	if ttl <= 0 || len(a.cookies) > 0 {
		return
	}
	a.expires = now.Add(ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCached {
		for k, old := range c.m {
			if now.After(old.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxCached {
			clear(c.m)
		}
	}
	c.m[key] = a
}

func (c *answerCache) ttl(status int) time.Duration {
	for _, r := range c.rules {
		if r.Statuses == nil {
			return r.TTL
		}
		for _, s := range r.Statuses {
			if s == status {
				return r.TTL
			}
		}
	}
	return 0
}

// render builds the cache key of a request: a digest of its parts, so
// that an entry's size does not depend on the request (a client's header
// may be as long as the header limit) and no credentials are kept.
func (c *answerCache) render(r *http.Request, f Facts) string {
	var b strings.Builder
	b.WriteString(f.RouteHost)
	b.WriteByte(0)
	b.WriteString(f.RoutePath)
	b.WriteByte(f.RouteKind)
	b.WriteByte(0)
	for _, p := range c.key {
		switch p.Kind {
		case annotations.KeyLiteral:
			b.WriteString(p.Name)
		case annotations.KeyRequestURI:
			b.WriteString(requestURI(r))
		case annotations.KeyURI:
			b.WriteString(r.URL.Path)
		case annotations.KeyRemoteAddr:
			b.WriteString(f.ClientIP)
		case annotations.KeyHost:
			b.WriteString(r.Host)
		case annotations.KeyHeader:
			b.WriteString(r.Header.Get(p.Name))
		case annotations.KeyCookie:
			if ck, err := r.Cookie(p.Name); err == nil {
				b.WriteString(ck.Value)
			}
		case annotations.KeyArg:
			b.WriteString(r.URL.Query().Get(p.Name))
		case annotations.KeyRemoteUser:
			// The name is only what the client claims: the answer is
			// kept for the whole credentials (a digest of them), so that
			// naming a user without the password never reuses it.
			u, _, _ := credentials(r.Header["Authorization"])
			b.WriteString(u)
			b.WriteByte(0)
			sum := sha256.Sum256([]byte(strings.Join(r.Header["Authorization"], "\n")))
			b.Write(sum[:])
		}
		b.WriteByte(0) // parts never run into each other
	}
	sum := sha256.Sum256([]byte(b.String()))
	return string(sum[:])
}
