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
	backends map[*table.Backend]*table.Backend
	actions  map[*table.Action]*table.Action
	canaries map[*table.Canary]*table.Canary
}

// newCloner copies every backend of tb, with the endpoints tb holds for it
// now (a Refresh may have replaced them since the backend was built).
func newCloner(tb *table.Table) (*cloner, bool) {
	c := &cloner{backends: make(map[*table.Backend]*table.Backend, len(tb.Backends())),
		actions: make(map[*table.Action]*table.Action, tb.Len()), canaries: map[*table.Canary]*table.Canary{}}
	for _, b := range tb.Backends() {
		cp := *b
		cp.Endpoints = tb.Endpoints(b)
		c.backends[b] = &cp
	}
	return c, true
}

// known is the copy of b when b is one of the table's backends.
func (c *cloner) known(b *table.Backend) (*table.Backend, bool) {
	cp, ok := c.backends[b]
	return cp, ok
}

// knownMap is m with the table's backends replaced by their copies and the
// others left out.
func (c *cloner) knownMap(m map[string]*table.Backend) map[string]*table.Backend {
	var out map[string]*table.Backend
	for k, b := range m {
		if cp, ok := c.known(b); ok {
			if out == nil {
				out = make(map[string]*table.Backend, len(m))
			}
			out[k] = cp
		}
	}
	return out
}

func (c *cloner) backend(b *table.Backend) *table.Backend {
	if b == nil {
		return nil
	}
	if cp, ok := c.backends[b]; ok {
		return cp
	}
	cp := *b // not in the table: cannot happen for a table's own action
	c.backends[b] = &cp
	return &cp
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

// routesExcept copies tb's routes whose host is not in hosts.
func (c *cloner) routesExcept(tb *table.Table, hosts map[string]bool) ([]*table.Route, bool) {
	out := make([]*table.Route, 0, tb.Len())
	for _, r := range tb.Routes() {
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
	return out, true
}
