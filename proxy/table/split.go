package table

import (
	"net/http"
	"strings"
)

// Rand is the random source of a split: one draw per request. The proxy
// passes a fast per-goroutine source; tests pass a seeded one.
type Rand interface {
	// IntN returns a uniform integer in [0, n); n > 0.
	IntN(n int) int
}

// Availability tells whether a backend has an endpoint that may take a
// request now. The proxy implements it over its endpoint registry.
type Availability interface {
	Available(b *Backend) bool
}

// Side is the outcome of a split.
type Side uint8

const (
	// SideMain is the main backend (or the weighted list's pick).
	SideMain Side = iota
	// SideCanary is the canary backend.
	SideCanary
)

// Choose picks the backend for a request, following docs/canary.md ("The decision for each request") for
// a main/canary split (affinity, decided by the caller before Choose, comes
// first) and a single weighted draw for a weighted list. It returns nil when
// a weighted list has no backend with weight, which the caller answers with
// 500 as the Gateway API asks. Choose does not allocate.
func (s *Split) Choose(r *http.Request, rnd Rand, av Availability) (*Backend, Side) {
	if s.Main == nil {
		return s.chooseWeighted(rnd), SideMain
	}
	c := s.Canary
	if c == nil || c.Backend == nil || !av.Available(c.Backend) {
		return s.Main, SideMain
	}
	if c.decide(r, rnd) {
		return c.Backend, SideCanary
	}
	return s.Main, SideMain
}

// decide runs the header, cookie and weight rules in order and reports
// whether the canary serves the request.
func (c *Canary) decide(r *http.Request, rnd Rand) bool {
	if c.headerKey != "" {
		if vs, ok := r.Header[c.headerKey]; ok {
			v := ""
			if len(vs) > 0 {
				v = vs[0]
			}
			switch {
			case c.HeaderValue != "":
				if v == c.HeaderValue {
					return true
				}
			case c.HeaderPattern != nil:
				if c.HeaderPattern.MatchString(v) {
					return true
				}
			case v == "always":
				return true
			case v == "never":
				return false
			}
		}
	}
	if c.Cookie != "" {
		if v, ok := CookieValue(r, c.Cookie); ok {
			switch v {
			case "always":
				return true
			case "never":
				return false
			}
		}
	}
	switch {
	case c.Weight <= 0:
		return false
	case c.Weight >= c.WeightTotal:
		return true
	}
	return rnd.IntN(c.WeightTotal) < c.Weight
}

// chooseWeighted walks cumulative weights with one draw, so exactly one
// entry wins and weight 0 never does.
func (s *Split) chooseWeighted(rnd Rand) *Backend {
	total := 0
	for _, w := range s.Weighted {
		if w.Weight > 0 {
			total += w.Weight
		}
	}
	if total == 0 {
		return nil
	}
	n := rnd.IntN(total)
	for _, w := range s.Weighted {
		if w.Weight <= 0 {
			continue
		}
		if n < w.Weight {
			return w.Backend
		}
		n -= w.Weight
	}
	return nil
}

// CookieValue returns the value of the first cookie called name in the
// request's Cookie headers, without parsing the others into a slice.
func CookieValue(r *http.Request, name string) (string, bool) {
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			k, v, ok := strings.Cut(part, "=")
			if !ok || k != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, true
		}
	}
	return "", false
}
