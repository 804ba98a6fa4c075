package table

import "strings"

// compareRoutes orders the routes of one host: the first route in this order
// that matches a request serves it. It is the only place precedence is
// decided (docs/routing.md, and the Gateway API's HTTPRoute rules):
//
//  0. A higher HostRank first (Gateway API routes: the route whose own
//     hostname matched more specifically; always equal for Ingress).
//  1. Exact paths before any other.
//  2. Longer path strings before shorter ones (longest Prefix wins; on a host
//     with regex paths, regex and prefix paths are ordered together by
//     length, as ingress-nginx orders its locations).
//  3. Equal length: by path string, then Prefix before Regex.
//  4. A route with a method match before one without.
//  5. More header matches first, then more query-parameter matches.
//  6. Order (creation time, namespace/name, rule index), lower first.
func compareRoutes(a, b *Route) int {
	if a.HostRank != b.HostRank {
		return b.HostRank - a.HostRank
	}
	if ae, be := a.Path.Type == PathExact, b.Path.Type == PathExact; ae != be {
		if ae {
			return -1
		}
		return 1
	}
	if la, lb := len(a.Path.Value), len(b.Path.Value); la != lb {
		return lb - la
	}
	if c := strings.Compare(a.Path.Value, b.Path.Value); c != 0 {
		return c
	}
	if a.Path.Type != b.Path.Type {
		return int(a.Path.Type) - int(b.Path.Type)
	}
	if am, bm := a.Method != "", b.Method != ""; am != bm {
		if am {
			return -1
		}
		return 1
	}
	if d := len(b.Headers) - len(a.Headers); d != 0 {
		return d
	}
	if d := len(b.Query) - len(a.Query); d != 0 {
		return d
	}
	return a.Order - b.Order
}

// Less reports whether route a takes precedence over route b on the same
// host.
func Less(a, b *Route) bool { return compareRoutes(a, b) < 0 }
