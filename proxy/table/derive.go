package table

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"weir.dev/weir/proxy/cow"
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
		if !replaced[h] {
			replaced[h] = true
			d.removeHost(h)
		}
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
	t, nt    *Table
	hosts    *hostSet // the replaced hosts' new entries
	routes   cow.Writer[*Route]
	backends cow.Writer[*Backend]
	eps      cow.Writer[[]Endpoint]
	refs     cow.Writer[int32]
	free     []int // route indices free to take
	dropped  []int // backends that lost a use
	ch       Changes
	seen     map[*Backend]bool // backends new to the table
}

func (t *Table) derive(generation uint64) *deriving {
	nt := *t
	nt.generation, nt.from = generation, t
	return &deriving{t: t, nt: &nt, hosts: newHostSet(), routes: nt.routes.Derive(), backends: nt.backends.Derive(),
		eps: nt.eps.Derive(), refs: nt.refs.Derive(), seen: map[*Backend]bool{}}
}

// removeHost takes the routes of one of t's hosts out of the new table
// (finish takes the entry out of its hostMap).
func (d *deriving) removeHost(host string) {
	h := d.t.lookupHost(host)
	if h == nil {
		return
	}
	for _, r := range h.routes {
		d.routes.Set(r.index, nil)
		d.nt.holes++
		d.free = append(d.free, r.index)
		d.ch.Routes = append(d.ch.Routes, r.index)
		eachBackend(r.Action, func(b *Backend) {
			d.refs.Set(b.index, d.nt.refs.At(b.index)-1)
			d.dropped = append(d.dropped, b.index)
		})
	}
}

// add puts a compiled route on its (new) host entry, at a free index.
func (d *deriving) add(r *Route) {
	nt := d.nt
	h := d.hosts.get(r.Host)
	h.routes = append(h.routes, r)
	if n := len(d.free); n > 0 {
		r.index, d.free = d.free[n-1], d.free[:n-1]
		d.routes.Set(r.index, r)
		nt.holes--
	} else {
		r.index = nt.routes.Len()
		d.routes.Append(r)
		d.ch.Routes = append(d.ch.Routes, r.index)
	}
	eachBackend(r.Action, func(b *Backend) {
		if !d.seen[b] && !d.t.Has(b) {
			d.seen[b] = true
			b.index = nt.backends.Len()
			d.backends.Append(b)
			d.eps.Append(b.Endpoints)
			d.refs.Append(0)
			d.ch.Backends = append(d.ch.Backends, b.index)
		}
		d.refs.Set(b.index, nt.refs.At(b.index)+1)
	})
}

// finish sorts the new hosts' routes, frees the backends no route uses and
// declines a table that has become mostly holes.
func (d *deriving) finish(replaced map[string]bool) (*Table, error) {
	nt := d.nt
	d.hosts.sort()
	exact, wildcard := map[string]*hostRoutes{}, map[string]*hostRoutes{}
	for h := range replaced {
		switch {
		case h == "":
			nt.catchAll = d.hosts.catchAll
		case strings.HasPrefix(h, "*."):
			wildcard[h[2:]] = d.hosts.wildcard[h[2:]] // nil: the host goes
		default:
			exact[h] = d.hosts.exact[h]
		}
	}
	nt.exact, nt.wildcard = d.t.exact.with(exact), d.t.wildcard.with(wildcard)
	for _, i := range d.dropped {
		if nt.refs.At(i) == 0 && nt.backends.At(i) != nil {
			d.backends.Set(i, nil)
			d.eps.Set(i, nil)
			nt.holes++
			d.ch.Backends = append(d.ch.Backends, i)
		}
	}
	if nt.holes > 64 && 4*nt.holes > nt.routes.Len()+nt.backends.Len() {
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
		return t.wildcard.get(host[2:])
	}
	return t.exact.get(host)
}

// Changes are what WithHosts replaced to make t (nil for a table New or
// WithEndpoints made).
func (t *Table) Changes() *Changes { return t.changes }
