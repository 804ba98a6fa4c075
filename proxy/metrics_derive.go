package proxy

import (
	"weir.dev/weir/proxy/cow"
	"weir.dev/weir/proxy/table"
)

// seriesChanged is seriesFor for a table that table.WithHosts derived from
// the one prev was prepared for: the routes at the indices in changed get
// their series anew, every other route keeps prev's, so the cost follows
// the change, not the table. A series the owner no longer uses is removed
// as seriesFor removes it; one a new route uses again keeps its counts.
func (m *Metrics) seriesChanged(owner any, t *table.Table, prev cow.Slice[*routeSeries], changed []int) cow.Slice[*routeSeries] {
	m.mu.Lock()
	defer m.mu.Unlock()
	used := m.owners[owner]
	if used == nil {
		used = make(map[*series]int)
		m.owners[owner] = used
	}
	out := prev
	w := out.Derive()
	for out.Len() < t.Len() {
		w.Append(nil)
	}
	added := make(map[*series]int)
	for _, i := range changed {
		var rs *routeSeries
		if rt := t.Route(i); rt != nil {
			rs = m.routeSeriesLocked(added, rt.Host, rt.Path.Value, rt.Source, rt.Action)
		}
		w.Set(i, rs)
	}
	// Uses are counted up before they are counted down, so a series that
	// a replaced route and its replacement share is never dropped.
	for s, n := range added {
		if used[s] == 0 {
			s.owners++
		}
		used[s] += n
	}
	for _, i := range changed {
		if i >= prev.Len() || prev.At(i) == nil {
			continue
		}
		for _, s := range prev.At(i).all() {
			if used[s]--; used[s] > 0 {
				continue
			}
			delete(used, s)
			if s.owners--; s.owners == 0 {
				m.dropLocked(s)
			}
		}
	}
	return out
}

// all is every series a route's routeSeries holds, once per use.
func (rs *routeSeries) all() []*series {
	out := make([]*series, 0, len(rs.entries)+1)
	out = append(out, rs.none)
	for _, e := range rs.entries {
		out = append(out, e.s)
	}
	return out
}
