package translate

import (
	"weir.dev/weir/proxy/table"
)

// The Ingress fast path derives its table from the one in service with
// table.WithHosts, which shares the kept hosts' routes, actions and
// backends. WithHosts writes into the new routes, their actions (compiled
// matchers) and the backends new to the table (their indices), so these
// must be objects the table in service does not read: the fresh
// translation makes its own routes and backends (seed hands it only
// backends of the table, which WithHosts keeps as they are), and its
// actions are copied here in case one is shared with the table in service
// (the default action).

// inTable reports whether b is one of tb's backends.
func inTable(tb *table.Table, b *table.Backend) bool {
	return tb.Has(b)
}

// knownMap is m without the backends that are not in tb.
func knownMap(tb *table.Table, m map[string]*table.Backend) map[string]*table.Backend {
	var out map[string]*table.Backend
	for k, b := range m {
		if inTable(tb, b) {
			if out == nil {
				out = make(map[string]*table.Backend, len(m))
			}
			out[k] = b
		}
	}
	return out
}

// ownActions gives fresh routes copies of their actions (and canaries),
// one copy per action so that routes sharing an action still share it.
func ownActions(fresh []*table.Route) []*table.Route {
	actions := map[*table.Action]*table.Action{}
	canaries := map[*table.Canary]*table.Canary{}
	for _, r := range fresh {
		a := r.Action
		if a == nil {
			continue
		}
		cp, ok := actions[a]
		if !ok {
			v := *a
			if a.Split.Canary != nil {
				cn, ok := canaries[a.Split.Canary]
				if !ok {
					c := *a.Split.Canary
					cn = &c
					canaries[a.Split.Canary] = cn
				}
				v.Split.Canary = cn
			}
			cp = &v
			actions[a] = cp
		}
		r.Action = cp
	}
	return fresh
}
