package proxy

import (
	"net/http"
	"strings"

	"weir.dev/weir/proxy/balance"
	"weir.dev/weir/proxy/table"
)

// choose decides main or canary for a request (docs/canary.md, "The decision for each request"). Cookie
// affinity comes first: a client pinned to a side stays there (the canary
// side only while it has an available endpoint), and the endpoint it was
// pinned to is returned as pinned.
func (s *Server) choose(r *http.Request, snap *snapshot, a *table.Action) (*table.Backend, table.Side, string) {
	sp := &a.Split
	if sp.Main != nil && sp.Main.Balance.Affinity != nil {
		if v, ok := table.CookieValue(r, sp.Main.Balance.Affinity.CookieName); ok {
			side, id, ok := parseAffinity(v)
			switch {
			case ok && side == table.SideCanary && sp.Canary != nil && snap.Available(sp.Canary.Backend):
				return sp.Canary.Backend, table.SideCanary, id
			case ok && side == table.SideMain:
				return sp.Main, table.SideMain, id
			}
		}
	}
	b, side := sp.Choose(r, s.rnd, snap)
	if sp.Canary != nil && side == table.SideMain && sp.Main != nil && !snap.Available(sp.Canary.Backend) {
		s.metrics.canaryUnavailable.Inc()
	}
	return b, side, ""
}

// setAffinity pins the client to the side and endpoint that served it, when
// the route uses cookie affinity (the canary side only in sticky mode).
func (s *Server) setAffinity(w http.ResponseWriter, pool *balance.Pool, a *table.Action, side table.Side, ep *balance.Endpoint, r *http.Request) {
	main := a.Split.Main
	if main == nil || main.Balance.Affinity == nil {
		return
	}
	if side == table.SideCanary && (a.Split.Canary == nil || a.Split.Canary.Legacy) {
		return
	}
	aff := main.Balance.Affinity
	want := affinityValue(side, ep.ID())
	if v, ok := table.CookieValue(r, aff.CookieName); ok && v == want {
		return
	}
	c := http.Cookie{
		Name:     aff.CookieName,
		Value:    want,
		Path:     aff.Path,
		Domain:   aff.Domain,
		Secure:   aff.Secure,
		SameSite: aff.SameSite,
		HttpOnly: true,
	}
	if c.Path == "" {
		c.Path = "/"
	}
	if aff.MaxAge > 0 {
		c.MaxAge = int(aff.MaxAge.Seconds())
	}
	w.Header().Add("Set-Cookie", c.String())
}

// affinityValue encodes side and endpoint: "m.<id>" or "c.<id>".
func affinityValue(side table.Side, id string) string {
	if side == table.SideCanary {
		return "c." + id
	}
	return "m." + id
}

func parseAffinity(v string) (table.Side, string, bool) {
	side, id, ok := strings.Cut(v, ".")
	if !ok || id == "" {
		return 0, "", false
	}
	switch side {
	case "m":
		return table.SideMain, id, true
	case "c":
		return table.SideCanary, id, true
	}
	return 0, "", false
}
