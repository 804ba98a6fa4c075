package translate

import (
	"slices"

	"weir.dev/weir/proxy/table"
)

// table.New writes into the routes, actions and backends it is given
// (their indices, compiled expressions), and the table in service keeps
// reading them, so the Ingress fast path never hands it the previous
// table's objects: it copies the routes of the hosts it keeps, with their
// actions and backends. Copies share what New does not write (policies,
// limiters, TLS configurations), and a backend shared by several routes
// stays one backend (one pool) in the copy.

// cloner copies a table's routes, remembering each copy so that sharing
// is kept.
type cloner struct {
	tb       *table.Table
	backends map[*table.Backend]*table.Backend
	actions  map[*table.Action]*table.Action
	canaries map[*table.Canary]*table.Canary
}

func newCloner(tb *table.Table) *cloner {
	return &cloner{tb: tb, backends: map[*table.Backend]*table.Backend{},
		actions: make(map[*table.Action]*table.Action, tb.Len()), canaries: map[*table.Canary]*table.Canary{}}
}

// inTable reports whether b is one of tb's backends.
func inTable(tb *table.Table, b *table.Backend) bool {
	bs := tb.Backends()
	i := b.Index()
	return i < len(bs) && bs[i] == b
}

// backend is the copy of one of the table's backends, with the endpoints
// the table holds for it now (a Refresh may have replaced them since the
// backend was built). Any other backend is new to this translation and
// stays as it is.
func (c *cloner) backend(b *table.Backend) *table.Backend {
	if b == nil || !inTable(c.tb, b) {
		return b
	}
	if cp, ok := c.backends[b]; ok {
		return cp
	}
	cp := *b
	cp.Endpoints = c.tb.Endpoints(b)
	c.backends[b] = &cp
	return &cp
}

// knownMap is m without the backends that are not in the table.
func (c *cloner) knownMap(m map[string]*table.Backend) map[string]*table.Backend {
	var out map[string]*table.Backend
	for k, b := range m {
		if inTable(c.tb, b) {
			if out == nil {
				out = make(map[string]*table.Backend, len(m))
			}
			out[k] = b
		}
	}
	return out
}

// action copies a, pointing at the copied backends. An action with
// weighted backends (the Gateway API's) is not copied: ok false.
func (c *cloner) action(a *table.Action) *table.Action {
	if a == nil {
		return nil
	}
	if cp, ok := c.actions[a]; ok {
		return cp
	}
	cp := *a
	cp.Split.Main = c.backend(a.Split.Main)
	if a.Split.Canary != nil {
		cn, ok := c.canaries[a.Split.Canary]
		if !ok {
			v := *a.Split.Canary
			v.Backend = c.backend(v.Backend)
			cn = &v
			c.canaries[a.Split.Canary] = cn
		}
		cp.Split.Canary = cn
	}
	if len(a.Mirrors) > 0 {
		cp.Mirrors = slices.Clone(a.Mirrors)
		for i := range cp.Mirrors {
			cp.Mirrors[i].Backend = c.backend(cp.Mirrors[i].Backend)
		}
	}
	if a.ErrorPages != nil {
		ep := *a.ErrorPages
		ep.Backend = c.backend(ep.Backend)
		cp.ErrorPages = &ep
	}
	c.actions[a] = &cp
	return &cp
}

// routes copies the table's routes whose host is not in hosts and then
// fresh's (routes of this translation, whose actions may name the table's
// backends too).
func (c *cloner) routes(hosts map[string]bool, fresh []*table.Route) ([]*table.Route, bool) {
	out := make([]*table.Route, 0, c.tb.Len()+len(fresh))
	for _, r := range c.tb.Routes() {
		if hosts[r.Host] {
			continue
		}
		if len(r.Action.Split.Weighted) > 0 {
			return nil, false
		}
		cp := *r
		cp.Headers = slices.Clone(r.Headers)
		cp.Query = slices.Clone(r.Query)
		cp.Action = c.action(r.Action)
		out = append(out, &cp)
	}
	for _, r := range fresh {
		r.Action = c.action(r.Action)
		out = append(out, r)
	}
	return out, true
}
