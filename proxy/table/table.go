package table

import (
	"errors"
	"fmt"
	"iter"
	"net/textproto"
	"regexp"
	"slices"
	"strings"

	"weir.dev/weir/proxy/cow"
)

// Table is an immutable routing snapshot. Build one with New.
type Table struct {
	generation uint64
	exact      hostMap
	wildcard   hostMap // keyed by the suffix after "*."
	catchAll   *hostRoutes
	def        *Action
	// backends, eps, routes and refs are indexed by Backend.Index and
	// Route.Index, in copy-on-write chunks: a derived table (WithHosts,
	// WithEndpoints) copies only the chunks it changes.
	backends cow.Slice[*Backend]
	// eps holds each backend's endpoints: an endpoint-only change
	// (WithEndpoints) writes only these.
	eps    cow.Slice[[]Endpoint]
	routes cow.Slice[*Route]
	// refs counts the uses of each backend by the routes' actions and the
	// default action; a derived table (WithHosts) frees a backend no use
	// is left of.
	refs cow.Slice[int32]
	// holes counts the nil entries of routes and backends (WithHosts).
	holes int
	from  *Table
	// changes says what WithHosts replaced (nil otherwise).
	changes *Changes
	// gatewayHosts selects the Gateway API's host matching (Options).
	gatewayHosts bool
}

// Options change how New builds a table.
type Options struct {
	// GatewayHosts gives the table the Gateway API's hostname semantics
	// instead of Ingress's: a wildcard "*.example.com" matches any number
	// of labels ("a.b.example.com", never "example.com"), the longest
	// matching wildcard wins, and the catch-all host answers only when no
	// exact or wildcard host matches. Ingress tables keep the one-label
	// wildcard.
	GatewayHosts bool
	// Hosts declares host entries that exist even without a route, so
	// that a request for them finds no route (and gets the default
	// action) instead of falling through to a wildcard or the catch-all:
	// the Gateway API keeps a listener's hostname to its own routes.
	Hosts []string
}

// hostRoutes are one host's routes in precedence order.
type hostRoutes struct {
	name   string
	routes []*Route
}

// New builds a table from routes and a default action (used when no route
// matches; nil means Weir's built-in 404). It compiles every regular
// expression once, orders each host's routes with Less and gives each
// distinct backend its index. The routes and actions must not be changed
// afterwards. An error names every route that could not be compiled; the
// caller keeps its previous table.
func New(generation uint64, routes []*Route, def *Action) (*Table, error) {
	return NewWithOptions(generation, routes, def, Options{})
}

// NewWithOptions is New with Options.
func NewWithOptions(generation uint64, routes []*Route, def *Action, opts Options) (*Table, error) {
	t := &Table{generation: generation, def: def, gatewayHosts: opts.GatewayHosts}
	hs := newHostSet()
	for _, h := range opts.Hosts {
		hs.get(h)
	}
	var errs []error
	var kept []*Route
	var backends []*Backend
	seen := make(map[*Backend]bool)
	for _, r := range routes {
		if err := compileRoute(r); err != nil {
			errs = append(errs, fmt.Errorf("route %s %q: %w", r.Host, r.Path.Value, err))
			continue
		}
		h := hs.get(r.Host)
		h.routes = append(h.routes, r)
		r.index = len(kept)
		kept = append(kept, r)
		backends = collectBackends(backends, r.Action, seen)
	}
	backends = collectBackends(backends, def, seen)
	refs := make([]int32, len(backends))
	for _, r := range kept {
		eachBackend(r.Action, func(b *Backend) { refs[b.index]++ })
	}
	eachBackend(def, func(b *Backend) { refs[b.index]++ })
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	hs.sort()
	t.exact, t.wildcard, t.catchAll = newHostMap(hs.exact), newHostMap(hs.wildcard), hs.catchAll
	eps := make([][]Endpoint, len(backends))
	for i, b := range backends {
		eps[i] = b.Endpoints
	}
	t.routes, t.backends, t.refs, t.eps = cow.Of(kept), cow.Of(backends), cow.Of(refs), cow.Of(eps)
	return t, nil
}

// Endpoints returns a backend's endpoints in this table. Read them here,
// not from Backend.Endpoints, which holds what the backend was built with.
func (t *Table) Endpoints(b *Backend) []Endpoint {
	if b == nil || b.index >= t.eps.Len() {
		return nil
	}
	return t.eps.At(b.index)
}

// WithEndpoints returns a table equal to t but for the endpoints of the
// backends indexed in changed. It shares every host, route, action and
// backend with t, and the endpoints of the others, so it costs little
// however large t is; t is unchanged.
func (t *Table) WithEndpoints(generation uint64, changed map[int][]Endpoint) *Table {
	nt := *t
	nt.generation = generation
	w := nt.eps.Derive()
	for i, e := range changed {
		if i >= 0 && i < nt.eps.Len() {
			w.Set(i, e)
		}
	}
	nt.from, nt.changes = t, nil
	return &nt
}

// DerivedFrom is the table WithEndpoints or WithHosts made this one from
// (nil for a table built by New).
func (t *Table) DerivedFrom() *Table { return t.from }

// hostSet gathers host entries while a table is built (New) or derived
// (WithHosts), before they go into the table's hostMaps.
type hostSet struct {
	exact, wildcard map[string]*hostRoutes // wildcard: by the suffix after "*."
	catchAll        *hostRoutes
}

func newHostSet() *hostSet {
	return &hostSet{exact: map[string]*hostRoutes{}, wildcard: map[string]*hostRoutes{}}
}

// get returns (creating) the route list for a route's host.
func (s *hostSet) get(host string) *hostRoutes {
	host = strings.ToLower(host)
	if host == "" {
		if s.catchAll == nil {
			s.catchAll = &hostRoutes{}
		}
		return s.catchAll
	}
	m, key := s.exact, host
	if strings.HasPrefix(host, "*.") {
		m, key = s.wildcard, host[2:]
	}
	h := m[key]
	if h == nil {
		h = &hostRoutes{name: host}
		m[key] = h
	}
	return h
}

// sort orders every host's routes by precedence (Less).
func (s *hostSet) sort() {
	for _, m := range []map[string]*hostRoutes{s.exact, s.wildcard} {
		for _, h := range m {
			slices.SortStableFunc(h.routes, compareRoutes)
		}
	}
	if s.catchAll != nil {
		slices.SortStableFunc(s.catchAll.routes, compareRoutes)
	}
}

// collectBackends appends the backends of a not yet in seen, giving each
// its index.
func collectBackends(backends []*Backend, a *Action, seen map[*Backend]bool) []*Backend {
	eachBackend(a, func(b *Backend) {
		if seen[b] {
			return
		}
		seen[b] = true
		b.index = len(backends)
		backends = append(backends, b)
	})
	return backends
}

// eachBackend calls f with every backend an action names (a backend named
// twice, twice).
func eachBackend(a *Action, f func(*Backend)) {
	if a == nil {
		return
	}
	add := func(b *Backend) {
		if b != nil {
			f(b)
		}
	}
	add(a.Split.Main)
	if a.Split.Canary != nil {
		add(a.Split.Canary.Backend)
	}
	for _, w := range a.Split.Weighted {
		add(w.Backend)
	}
	for _, m := range a.Mirrors {
		add(m.Backend)
	}
	if a.ErrorPages != nil {
		add(a.ErrorPages.Backend)
	}
}

// compileRoute checks a route and compiles its expressions.
func compileRoute(r *Route) error {
	if r.Action == nil {
		return errors.New("route has no action")
	}
	regex := r.Path.Type == PathRegex || r.Path.Type == PathRegexFull
	if r.Path.Value == "" || (!regex && r.Path.Value[0] != '/') {
		return fmt.Errorf("path %q must start with /", r.Path.Value)
	}
	switch r.Path.Type {
	case PathRegex:
		re, err := CompilePathRegex(r.Path.Value)
		if err != nil {
			return err
		}
		r.Path.re = re
	case PathRegexFull:
		re, err := CompileFullRegex(r.Path.Value)
		if err != nil {
			return err
		}
		r.Path.re = re
	}
	for i := range r.Headers {
		h := &r.Headers[i]
		h.key = textproto.CanonicalMIMEHeaderKey(h.Name)
		if h.Type == MatchRegex {
			re, err := regexp.Compile(h.Value)
			if err != nil {
				return fmt.Errorf("header %s: %w", h.Name, err)
			}
			h.re = re
		}
	}
	for i := range r.Query {
		q := &r.Query[i]
		if q.Type == MatchRegex {
			re, err := regexp.Compile(q.Value)
			if err != nil {
				return fmt.Errorf("query parameter %s: %w", q.Name, err)
			}
			q.re = re
		}
	}
	mergeBackendFilters(r.Action)
	if c := r.Action.Split.Canary; c != nil {
		c.headerKey = textproto.CanonicalMIMEHeaderKey(c.Header)
		if c.WeightTotal <= 0 {
			return errors.New("canary weight total must be at least 1")
		}
	}
	return nil
}

// CompilePathRegex compiles a regex path the way the table matches it:
// case-insensitive and anchored at the start only. The translator uses it to
// validate paths before building.
func CompilePathRegex(expr string) (*regexp.Regexp, error) {
	re, err := regexp.Compile("(?i)^(?:" + expr + ")")
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression %q: %w", expr, err)
	}
	return re, nil
}

// CompileFullRegex compiles a regular expression that must match a whole
// value, case-sensitively (the Gateway API's RegularExpression matches).
func CompileFullRegex(expr string) (*regexp.Regexp, error) {
	re, err := regexp.Compile("^(?:" + expr + ")$")
	if err != nil {
		return nil, fmt.Errorf("invalid regular expression %q: %w", expr, err)
	}
	return re, nil
}

// Generation is the number the controller gave this table.
func (t *Table) Generation() uint64 { return t.generation }

// Backends yields every distinct backend with its Backend.Index. In a
// table WithHosts derived, the index of a backend no route uses any more
// holds nil.
func (t *Table) Backends() iter.Seq2[int, *Backend] { return t.backends.All() }

// NumBackends is the number of backend indices (nil entries included).
func (t *Table) NumBackends() int { return t.backends.Len() }

// Backend is the backend at index i (nil: removed, or i out of range).
func (t *Table) Backend(i int) *Backend {
	if i < 0 || i >= t.backends.Len() {
		return nil
	}
	return t.backends.At(i)
}

// Has reports whether b is one of t's backends, at its index.
func (t *Table) Has(b *Backend) bool { return b != nil && t.Backend(b.index) == b }

// Default is the action for requests no route matches (nil: built-in 404).
func (t *Table) Default() *Action { return t.def }

// Len is the number of route indices (in a table WithHosts derived, nil
// entries included).
func (t *Table) Len() int { return t.routes.Len() }

// Routes yields every route with its Route.Index, in the order New received
// them. In a table WithHosts derived, the index of a route removed and not
// reused holds nil.
func (t *Table) Routes() iter.Seq2[int, *Route] { return t.routes.All() }

// Route is the route at index i (nil: removed, or i out of range).
func (t *Table) Route(i int) *Route {
	if i < 0 || i >= t.routes.Len() {
		return nil
	}
	return t.routes.At(i)
}
