package table

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Changes are what WithHosts replaced in the table it derived: the indices
// of the routes and of the backends whose entry is new, reused or gone
// (nil now). Every other route and backend is the previous table's, with
// the same index.
type Changes struct {
	Routes   []int
	Backends []int
}

// ErrSparse is WithHosts declining because too many of the table's indices
// are holes left by removed routes and backends: build the table with New.
var ErrSparse = errors.New("table: too many removed routes and backends; build it anew")

// WithHosts returns a table equal to t but for the routes of hosts (names
// as Route.Host spells them), which are replaced by routes: every route of
// routes must be on one of hosts, and a host of hosts without one has no
// entry in the new table. The kept hosts share their route lists, routes,
// actions and backends with t, indices unchanged, and t is unchanged. The
// routes, their actions and any backend they name that is not one of t's
// are written to as New writes to them, so they must be new objects that
// no table reads. Backends that no route uses any more leave a nil entry
// in Backends (and a removed route in Routes, until a new route takes its
// index). An error names every route that could not be compiled; ErrSparse
// says that New should build the table instead.
func (t *Table) WithHosts(generation uint64, hosts []string, routes []*Route) (*Table, error) {
	d := t.derive(generation)
	replaced := make(map[string]bool, len(hosts))
	for _, h := range hosts {
		h = strings.ToLower(h)
		replaced[h] = true
		d.removeHost(h)
	}
	var errs []error
	for _, r := range routes {
		err := compileRoute(r)
		if err == nil && !replaced[strings.ToLower(r.Host)] {
			err = errors.New("host is not one of those replaced")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("route %s %q: %w", r.Host, r.Path.Value, err))
			continue
		}
		d.add(r)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return d.finish(replaced)
}

// deriving is a table WithHosts is building from t.
type deriving struct {
	t, nt *Table
	free  []int // route indices free to take
	ch    Changes
	seen  map[*Backend]bool // backends new to the table
}

func (t *Table) derive(generation uint64) *deriving {
	nt := *t
	nt.generation, nt.from = generation, t
	nt.exact, nt.wildcard = maps.Clone(t.exact), maps.Clone(t.wildcard)
	nt.routes, nt.backends = slices.Clone(t.routes), slices.Clone(t.backends)
	nt.eps, nt.refs = slices.Clone(t.eps), slices.Clone(t.refs)
	return &deriving{t: t, nt: &nt, seen: map[*Backend]bool{}}
}

// removeHost takes a host's routes out of the new table.
func (d *deriving) removeHost(host string) {
	var h *hostRoutes
	switch {
	case host == "":
		h, d.nt.catchAll = d.nt.catchAll, nil
	case strings.HasPrefix(host, "*."):
		h = d.nt.wildcard[host[2:]]
		delete(d.nt.wildcard, host[2:])
	default:
		h = d.nt.exact[host]
		delete(d.nt.exact, host)
	}
	if h == nil {
		return
	}
	for _, r := range h.routes {
		d.nt.routes[r.index] = nil
		d.free = append(d.free, r.index)
		d.ch.Routes = append(d.ch.Routes, r.index)
		eachBackend(r.Action, func(b *Backend) { d.nt.refs[b.index]-- })
	}
}

// add puts a compiled route on its (new) host entry, at a free index.
func (d *deriving) add(r *Route) {
	nt := d.nt
	h := nt.hostFor(r.Host)
	h.routes = append(h.routes, r)
	if n := len(d.free); n > 0 {
		r.index, d.free = d.free[n-1], d.free[:n-1]
		nt.routes[r.index] = r
	} else {
		r.index = len(nt.routes)
		nt.routes = append(nt.routes, r)
		d.ch.Routes = append(d.ch.Routes, r.index)
	}
	eachBackend(r.Action, func(b *Backend) {
		if !d.seen[b] && !d.t.has(b) {
			d.seen[b] = true
			b.index = len(nt.backends)
			nt.backends = append(nt.backends, b)
			nt.eps = append(nt.eps, b.Endpoints)
			nt.refs = append(nt.refs, 0)
			d.ch.Backends = append(d.ch.Backends, b.index)
		}
		nt.refs[b.index]++
	})
}

// has reports whether b is one of t's backends.
func (t *Table) has(b *Backend) bool {
	return b.index < len(t.backends) && t.backends[b.index] == b
}

// finish sorts the new hosts' routes, frees the backends no route uses and
// declines a table that has become mostly holes.
func (d *deriving) finish(replaced map[string]bool) (*Table, error) {
	nt := d.nt
	for h := range replaced {
		if hr := nt.lookupHost(h); hr != nil {
			slices.SortStableFunc(hr.routes, compareRoutes)
		}
	}
	for i, n := range nt.refs {
		if n == 0 && nt.backends[i] != nil && i < len(d.t.backends) {
			nt.backends[i], nt.eps[i] = nil, nil
			d.ch.Backends = append(d.ch.Backends, i)
		}
	}
	holes := 0
	for _, b := range nt.backends {
		if b == nil {
			holes++
		}
	}
	for _, r := range nt.routes {
		if r == nil {
			holes++
		}
	}
	if holes > 64 && 4*holes > len(nt.routes)+len(nt.backends) {
		return nil, ErrSparse
	}
	slices.Sort(d.ch.Routes)
	d.ch.Routes = slices.Compact(d.ch.Routes)
	slices.Sort(d.ch.Backends)
	nt.changes = &d.ch
	return nt, nil
}

// lookupHost is the entry of a host as hostFor names it (nil: none).
func (t *Table) lookupHost(host string) *hostRoutes {
	switch {
	case host == "":
		return t.catchAll
	case strings.HasPrefix(host, "*."):
		return t.wildcard[host[2:]]
	}
	return t.exact[host]
}

// Changes are what WithHosts replaced to make t (nil for a table New or
// WithEndpoints made).
func (t *Table) Changes() *Changes { return t.changes }
