// Package endpoint is the registry of endpoint state that outlives routing
// tables. Each publish maps the table's backends onto endpoint state keyed by
// identity (address and protocol), so in-flight counts, latency and health
// carry over a rebuild; it starts active checks for new endpoints and stops
// them, and forgets the state, for endpoints that no table uses any more.
// Several tables can be in service at once (Ingress and each Gateway
// listener): each publishes through its own Scope of one registry, and an
// endpoint is forgotten only when no scope's table uses it.
package endpoint

import (
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"weir.dev/weir/proxy/balance"
	"weir.dev/weir/proxy/cow"
	"weir.dev/weir/proxy/health"
	"weir.dev/weir/proxy/table"
)

// Options configure a Registry.
type Options struct {
	Logger *zap.Logger
	// Clock is the time source of passive ejection (default time.Now).
	Clock func() time.Time
	// Rand replaces the balancers' random source (tests).
	Rand func(n int) int
	// OnHealthChange is called when an active check changes its verdict.
	OnHealthChange func(address string, healthy bool)
	// OnChecked is called when an endpoint's active check starts; the
	// endpoint starts healthy.
	OnChecked func(address string)
	// OnUnchecked is called when an endpoint stops being actively checked
	// because no table wants it checked or uses it any more (not on Close).
	OnUnchecked func(address string)
	// OnPanic is called when a backend has no available endpoint and its
	// balancer uses them all.
	OnPanic func(b *table.Backend)
}

type key struct {
	address string
	proto   table.Protocol
}

type entry struct {
	ep      *balance.Endpoint
	checker *health.Checker
	spec    health.Spec
	// refs counts, per scope, the backends of the scope's table in service
	// that use the endpoint.
	refs map[string]int
}

func (e *entry) total() int {
	n := 0
	for _, v := range e.refs {
		n += v
	}
	return n
}

// usedElsewhere reports whether a scope other than scope uses the endpoint.
func (e *entry) usedElsewhere(scope string) bool {
	for s, v := range e.refs {
		if s != scope && v > 0 {
			return true
		}
	}
	return false
}

func (e *entry) setRefs(scope string, n int) {
	if n > 0 {
		e.refs[scope] = n
	} else {
		delete(e.refs, scope)
	}
}

// state is what every scope of a registry shares.
type state struct {
	opts    Options
	mu      sync.Mutex
	entries map[key]*entry
	// checked holds, per scope, the active-check spec of each endpoint its
	// table asks a check for.
	checked map[string]map[key]health.Spec
	closed  bool
}

// Registry holds endpoint state across tables. Publish and Close take its
// lock; requests never do.
type Registry struct {
	*state
	scope string
}

// NewRegistry returns an empty registry.
func NewRegistry(opts Options) *Registry {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Registry{state: &state{opts: opts, entries: make(map[key]*entry), checked: make(map[string]map[key]health.Spec)}}
}

// Scope returns a view of the registry for another table in service at the
// same time (name identifies it; "" is the registry itself). Endpoint state
// is shared: the same endpoint has one in-flight count, one health verdict
// and one checker whichever tables use it. Publishing an empty table
// releases a scope.
func (r *Registry) Scope(name string) *Registry { return &Registry{state: r.state, scope: name} }

func (r *Registry) newEntry(k key) *entry {
	en := &entry{ep: balance.NewEndpoint(k.address, k.proto, r.opts.Clock), refs: make(map[string]int)}
	r.entries[k] = en
	return en
}

// Publish returns the pools of t's backends, indexed by Backend.Index. It is
// safe to call while requests use pools of earlier tables.
func (r *Registry) Publish(t *table.Table) cow.Slice[*balance.Pool] {
	r.mu.Lock()
	defer r.mu.Unlock()
	backends := t.Backends()
	pools := make([]*balance.Pool, t.NumBackends())
	seen := make(map[key]bool)
	checked := make(map[key]health.Spec)
	popts := balance.PoolOptions{Rand: r.opts.Rand, OnPanic: r.opts.OnPanic}
	refs := make(map[key]int)
	for _, b := range backends {
		if b == nil {
			continue // removed (table.WithHosts)
		}
		tEps := t.Endpoints(b)
		eps := make([]*balance.Endpoint, 0, len(tEps))
		for _, e := range tEps {
			k := key{e.Address, b.Protocol}
			en := r.entries[k]
			if en == nil {
				en = r.newEntry(k)
			}
			if !seen[k] {
				// The first backend (in table order) that uses an endpoint
				// sets its passive and active policies; another scope that
				// already uses it keeps its passive policy.
				seen[k] = true
				if !en.usedElsewhere(r.scope) {
					en.ep.SetPassive(b.Passive)
				}
				if b.Health.Path != "" {
					checked[k] = health.SpecFor(b.Health, b.Protocol)
				}
			}
			if !contains(eps, en.ep) {
				eps = append(eps, en.ep)
				refs[k]++
			}
		}
		pools[b.Index()] = balance.NewPool(b, eps, popts)
	}
	r.checked[r.scope] = checked
	for k, en := range r.entries {
		en.setRefs(r.scope, refs[k])
	}
	r.syncCheckers()
	return cow.Of(pools)
}

// PublishChanged returns the pools of t, a table that differs from the one
// prev was published for only in the endpoints of the backends indexed in
// changed (table.WithEndpoints), or in the backends at those indices
// (table.WithHosts: a new backend, or nil for one removed). Only those
// pools are rebuilt; endpoints no backend uses any more are removed as
// Publish would remove them. The pools not rebuilt are shared with prev,
// in copy-on-write chunks: the cost follows the change.
func (r *Registry) PublishChanged(t *table.Table, prev cow.Slice[*balance.Pool], changed []int) cow.Slice[*balance.Pool] {
	r.mu.Lock()
	defer r.mu.Unlock()
	pools := prev
	w := pools.Derive()
	for pools.Len() < t.NumBackends() {
		w.Append(nil)
	}
	popts := balance.PoolOptions{Rand: r.opts.Rand, OnPanic: r.opts.OnPanic}
	var released []key
	for _, i := range changed {
		if p := poolAt(prev, i); p != nil {
			old := p.Backend()
			for _, ep := range p.Endpoints() {
				k := key{ep.Address(), old.Protocol}
				if en := r.entries[k]; en != nil && en.ep == ep {
					en.setRefs(r.scope, en.refs[r.scope]-1)
					released = append(released, k)
				}
			}
		}
		b := t.Backend(i)
		if b == nil {
			w.Set(i, nil)
			continue
		}
		tEps := t.Endpoints(b)
		eps := make([]*balance.Endpoint, 0, len(tEps))
		for _, e := range tEps {
			k := key{e.Address, b.Protocol}
			en := r.entries[k]
			if en == nil {
				en = r.newEntry(k)
				en.ep.SetPassive(b.Passive)
				if b.Health.Path != "" && !r.closed {
					spec := health.SpecFor(b.Health, b.Protocol)
					r.scopeChecked()[k] = spec
					r.startChecker(k, en, spec)
				}
			} else if b.Health.Path != "" && en.checker == nil && !r.closed {
				// A backend new to the table (table.WithHosts) checks an
				// endpoint others already use unchecked.
				spec := health.SpecFor(b.Health, b.Protocol)
				r.scopeChecked()[k] = spec
				r.startChecker(k, en, spec)
			}
			if !contains(eps, en.ep) {
				eps = append(eps, en.ep)
				en.refs[r.scope]++
			}
		}
		w.Set(i, balance.NewPool(b, eps, popts))
	}
	for _, k := range released {
		if en := r.entries[k]; en != nil && en.total() <= 0 {
			if en.checker != nil {
				en.checker.Stop()
			}
			r.remove(k, en)
		}
	}
	return pools
}

// poolAt is pools' entry at i (nil: none, or i out of range).
func poolAt(pools cow.Slice[*balance.Pool], i int) *balance.Pool {
	if i < 0 || i >= pools.Len() {
		return nil
	}
	return pools.At(i)
}

func (r *Registry) scopeChecked() map[key]health.Spec {
	m := r.checked[r.scope]
	if m == nil {
		m = make(map[key]health.Spec)
		r.checked[r.scope] = m
	}
	return m
}

// remove forgets an endpoint no table uses. Requests still holding an older
// table must not pick it again (a retry after its Pod went away, say).
func (r *Registry) remove(k key, en *entry) {
	r.unchecked(k.address)
	en.ep.MarkRemoved()
	delete(r.entries, k)
	for _, m := range r.checked {
		delete(m, k)
	}
}

func (r *Registry) unchecked(address string) {
	if !r.closed && r.opts.OnUnchecked != nil {
		r.opts.OnUnchecked(address)
	}
}

// wantedChecks is the active-check spec of every endpoint some scope wants
// checked: the first scope's (by name, "" first) when several do.
func (r *Registry) wantedChecks() map[key]health.Spec {
	if len(r.checked) == 1 {
		for _, m := range r.checked {
			return m
		}
	}
	scopes := make([]string, 0, len(r.checked))
	for s := range r.checked {
		scopes = append(scopes, s)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(scopes)))
	out := make(map[key]health.Spec)
	for _, s := range scopes {
		for k, spec := range r.checked[s] {
			out[k] = spec
		}
	}
	return out
}

// syncCheckers starts, restarts and stops active checks so that exactly the
// endpoints some scope wants checked have one, with that spec, and drops
// the entries no scope uses.
func (r *Registry) syncCheckers() {
	checked := r.wantedChecks()
	for k, en := range r.entries {
		spec, want := checked[k]
		if en.checker != nil && (!want || spec != en.spec || r.closed) {
			en.checker.Stop()
			en.checker = nil
			en.ep.SetHealthy(true)
			if !want {
				r.unchecked(k.address)
			}
		}
		if en.total() == 0 {
			r.remove(k, en)
			continue
		}
		if want && en.checker == nil && !r.closed {
			r.startChecker(k, en, spec)
		}
	}
}

func (r *Registry) startChecker(k key, en *entry, spec health.Spec) {
	en.spec = spec
	ep, addr := en.ep, k.address
	if r.opts.OnChecked != nil {
		r.opts.OnChecked(addr)
	}
	en.checker = health.Start(addr, spec, func(ok bool) {
		ep.SetHealthy(ok)
		if r.opts.OnHealthChange != nil {
			r.opts.OnHealthChange(addr, ok)
		}
	}, r.opts.Logger)
}

// Close stops every checker and waits for them.
func (r *Registry) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	for _, en := range r.entries {
		if en.checker != nil {
			en.checker.Stop()
			en.checker = nil
		}
	}
}

// EndpointStatus is one endpoint's state, for metrics and debugging.
type EndpointStatus struct {
	Address  string
	Protocol table.Protocol
	Healthy  bool
	Ejected  bool
	InFlight int64
	EWMA     time.Duration
	Checked  bool
}

// Snapshot lists every endpoint's state, sorted by address.
func (r *Registry) Snapshot() []EndpointStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]EndpointStatus, 0, len(r.entries))
	for k, en := range r.entries {
		out = append(out, EndpointStatus{Address: k.address, Protocol: k.proto, Healthy: en.ep.Healthy(),
			Ejected: en.ep.Ejected(), InFlight: en.ep.InFlight(), EWMA: en.ep.EWMA(), Checked: en.checker != nil})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}

func contains(eps []*balance.Endpoint, e *balance.Endpoint) bool {
	for _, x := range eps {
		if x == e {
			return true
		}
	}
	return false
}
