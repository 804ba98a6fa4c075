package translate

import (
	"crypto/x509"
	"maps"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"

	"weir.dev/weir/annotations"
	weirtls "weir.dev/weir/tls"
)

// The Ingress fast path. Ingresses combine only with Ingresses that share
// a host (path conflicts, canaries, host defaults), so when only some
// Ingresses changed, RefreshIngresses translates again only the hosts they
// name, before and after the change, together with every Ingress naming
// one of those hosts (and, in turn, those Ingresses' other hosts), and takes
// everything else from the previous result. Whatever couples hosts beyond
// that makes it decline, and the caller translates in full:
//
//   - spec.defaultBackend on any Ingress it would translate (the table's
//     default action) or spec.tls on a changed Ingress (certificates and
//     ssl-redirect are per TLS host, wildcards included);
//   - server-alias anywhere (an alias adds routes to another host);
//   - ssl-passthrough on a changed Ingress or one it would translate, or
//     any host passed through already (Result.Passthrough is computed
//     only by a full translation; a wildcard's covers other hosts);
//   - an Ingress whose load-balance, upstream-hash-by or affinity differs
//     from the defaults anywhere (the oldest Ingress using a Service port
//     sets them for every host).
//
// A differential fuzz test (ingrefresh_test.go) checks that the result
// equals a full translation's: the same routes on every host, the same
// backends, certificates and problems.

// ingState is what the fast path needs from the translation a result
// stands for. Like objIndex it is shared along a chain of results and
// updated in place, so a chain is refreshed from one goroutine.
type ingState struct {
	opts    Options
	classes []*networkingv1.IngressClass
	list    []*networkingv1.Ingress // the inputs' Ingresses, indexed on first use

	ings     map[string]*networkingv1.Ingress // by "namespace/name"
	hostIngs map[string]map[string]bool       // host -> Ingresses naming it
	ingHosts map[string][]string              // Ingress -> its hosts

	problems  []Problem // the translation's own, sorted
	backends  map[backendKey]*backendEntry
	extras    extras
	tlsHosts  map[string]bool
	defOwner  *parsed
	nextOrder int
	// off says why the fast path does not apply to this state ("": it does).
	off string
	// broken: an update began and was given up; only a full translation
	// gives a usable state again.
	broken bool
}

func newIngState(in *Inputs, t *translator, mains []*parsed, problems []Problem) *ingState {
	s := &ingState{opts: in.Options, classes: in.IngressClasses, list: in.Ingresses, problems: problems,
		backends: t.backends, extras: t.extras, tlsHosts: t.tlsHosts, defOwner: t.defOwner, nextOrder: t.order}
	def := balancePolicy(t.ingressDefaults())
	for _, p := range mains {
		switch {
		case len(p.cfg.ServerAlias) > 0:
			s.off = "server-alias"
		case p.cfg != t.ingressDefaults() && !samePolicy(balancePolicy(p.cfg), def):
			s.off = "load-balancing annotations"
		}
	}
	return s
}

// index builds the Ingress and host maps on first use.
func (s *ingState) index() {
	if s.ings != nil {
		return
	}
	s.ings = make(map[string]*networkingv1.Ingress, len(s.list))
	s.hostIngs = make(map[string]map[string]bool, len(s.list))
	s.ingHosts = make(map[string][]string, len(s.list))
	for _, ing := range s.list {
		s.set(ing.Namespace+"/"+ing.Name, ing)
	}
	s.list = nil
}

// set records the current version of an Ingress (nil: gone).
func (s *ingState) set(key string, ing *networkingv1.Ingress) {
	for _, h := range s.ingHosts[key] {
		delete(s.hostIngs[h], key)
		if len(s.hostIngs[h]) == 0 {
			delete(s.hostIngs, h)
		}
	}
	delete(s.ingHosts, key)
	delete(s.ings, key)
	if ing == nil {
		return
	}
	s.ings[key] = ing
	hosts := ruleHosts(ing)
	s.ingHosts[key] = hosts
	for _, h := range hosts {
		if s.hostIngs[h] == nil {
			s.hostIngs[h] = make(map[string]bool)
		}
		s.hostIngs[h][key] = true
	}
}

// ruleHosts are the distinct valid hosts of an Ingress's rules ("" for the
// catch-all).
func ruleHosts(ing *networkingv1.Ingress) []string {
	var out []string
	if ing == nil {
		return nil
	}
	for _, r := range ing.Spec.Rules {
		if h, ok := normalizeHost(r.Host); ok && !containsString(out, h) {
			out = append(out, h)
		}
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// coupled reports whether an Ingress has what makes the fast path decline
// (see the package comment above); changed adds spec.tls.
func coupled(ing *networkingv1.Ingress, changed bool) bool {
	if ing == nil {
		return false
	}
	if _, ok := ing.Annotations[annotations.Prefix+"server-alias"]; ok {
		return true
	}
	if _, ok := ing.Annotations[annotations.Prefix+"ssl-passthrough"]; ok {
		return true
	}
	return ing.Spec.DefaultBackend != nil || (changed && len(ing.Spec.TLS) > 0)
}

// RefreshIngresses is the Ingress fast path. prev must come from Translate
// or a fast path on inputs that differ from the current ones only in the
// Ingresses named in changed ("namespace/name" -> the current object, nil
// when it is gone). It returns a result equal to a full Translate's with
// a new table; ok is false when the path does not apply (see above) and
// the caller translates in full. The Gateway side is prev's.
func RefreshIngresses(prev *Result, changed map[string]*networkingv1.Ingress, generation uint64) (*Result, bool) {
	if prev == nil || prev.Table == nil || prev.ing == nil || prev.idx == nil || prev.ing.off != "" || prev.ing.broken ||
		len(prev.Passthrough) > 0 {
		return nil, false
	}
	s := prev.ing
	s.index()
	hosts := map[string]bool{}
	for key, ing := range changed {
		if coupled(ing, true) || coupled(s.ings[key], true) {
			return nil, false
		}
		for _, h := range s.ingHosts[key] {
			hosts[h] = true
		}
		for _, h := range ruleHosts(ing) {
			hosts[h] = true
		}
	}
	s.broken = true // until the update below completes
	for key, ing := range changed {
		s.set(key, ing)
	}
	members := s.closure(hosts)
	if len(members) > 64 && 2*len(members) > len(s.ings) {
		return nil, false // most of the table: a full translation costs no more
	}
	ings := make([]*networkingv1.Ingress, 0, len(members))
	for key := range members {
		if coupled(s.ings[key], false) {
			return nil, false
		}
		ings = append(ings, s.ings[key])
	}
	res, ok := s.retranslate(prev, ings, hosts, members, changed, generation)
	if ok {
		s.broken = false
	}
	return res, ok
}

// closure widens hosts (in place) to every host of every Ingress naming
// one of them, and returns those Ingresses.
func (s *ingState) closure(hosts map[string]bool) map[string]bool {
	members := map[string]bool{}
	queue := make([]string, 0, len(hosts))
	for h := range hosts {
		queue = append(queue, h)
	}
	for len(queue) > 0 {
		h := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for key := range s.hostIngs[h] {
			if members[key] {
				continue
			}
			members[key] = true
			for _, h2 := range s.ingHosts[key] {
				if !hosts[h2] {
					hosts[h2] = true
					queue = append(queue, h2)
				}
			}
		}
	}
	return members
}

// retranslate translates ings (the Ingresses of hosts) on a translator
// seeded with prev's shared state, and derives the new table from prev's
// with these hosts' routes replaced (table.WithHosts): the other hosts'
// routes, actions and backends are shared, not copied.
func (s *ingState) retranslate(prev *Result, ings []*networkingv1.Ingress, hosts, members map[string]bool,
	changed map[string]*networkingv1.Ingress, generation uint64) (*Result, bool) {
	t := newTranslatorWith(&Inputs{Ingresses: ings, IngressClasses: s.classes, Options: s.opts}, prev.idx.x)
	s.seed(t, prev)
	mains, canaries := splitCanaries(t.ours(&Inputs{Ingresses: ings, IngressClasses: s.classes, Options: s.opts}))
	def := balancePolicy(t.ingressDefaults())
	for _, p := range mains {
		if len(p.cfg.ServerAlias) > 0 || (p.cfg != t.ingressDefaults() && !samePolicy(balancePolicy(p.cfg), def)) {
			return nil, false
		}
	}
	t.collectTLS(mains)
	t.addIngresses(mains, canaries)
	if t.def != prev.Table.Default() {
		return nil, false
	}
	names := append([]string{}, slices.Sorted(maps.Keys(hosts))...) // not nil: see Result.HostsChanged
	tb, err := prev.Table.WithHosts(generation, names, ownActions(t.list))
	if err != nil {
		return nil, false // a route that does not compile, or a table mostly holes
	}
	res := *prev
	res.Table, res.EndpointsOnly, res.ListenerEndpointsOnly, res.GatewaysOnly = tb, nil, nil, false
	res.HostsChanged = names
	res.ClientCertHosts = mergeClientHosts(prev.ClientCertHosts, t.clientHosts, hosts)
	res.Problems = mergeProblems(s.problems, t.problems, members, changed)
	s.problems = res.Problems
	s.backends, s.extras, s.nextOrder = t.backends, t.extras, t.order
	return &res, true
}

// seed gives t what the full translation had gathered over every Ingress:
// the shared backends, TLS hosts, certificates and the default action.
// The backends are the previous table's own (those no route used are left
// out: their endpoints were not kept up to date, and the table may have
// dropped them).
func (s *ingState) seed(t *translator, prev *Result) {
	for k, e := range s.backends {
		if !inTable(prev.Table, e.backend) {
			delete(s.backends, k)
		}
	}
	t.backends = s.backends
	t.extras = extras{compression: s.extras.compression, compressionSet: s.extras.compressionSet,
		errorBackends: knownMap(prev.Table, s.extras.errorBackends), mirrorBackends: knownMap(prev.Table, s.extras.mirrorBackends)}
	t.tlsHosts = s.tlsHosts
	// The result keeps prev's certificate maps (a changed Ingress with
	// spec.tls takes the full path), so what collectTLS gathers here is
	// not used: fresh maps instead of copies of every certificate.
	t.certs, t.certSecrets = map[string]*weirtls.Certificate{}, nil
	t.def, t.defOwner = prev.Table.Default(), s.defOwner
	t.order = s.nextOrder
}

// mergeClientHosts is prev's client-certificate hosts outside hosts, and
// fresh's: prev itself when that is the same, so that the publisher can
// keep its certificate snapshot (cmd/weir/run.go).
func mergeClientHosts(prev, fresh map[string]*x509.CertPool, hosts map[string]bool) map[string]*x509.CertPool {
	if sameClientHosts(prev, fresh, hosts) {
		return prev
	}
	var out map[string]*x509.CertPool
	for h, p := range prev {
		if !hosts[h] {
			if out == nil {
				out = map[string]*x509.CertPool{}
			}
			out[h] = p
		}
	}
	for h, p := range fresh {
		if out == nil {
			out = map[string]*x509.CertPool{}
		}
		out[h] = p
	}
	return out
}

// sameClientHosts reports whether fresh holds exactly prev's entries for
// hosts (the same pools).
func sameClientHosts(prev, fresh map[string]*x509.CertPool, hosts map[string]bool) bool {
	for h := range hosts {
		p, ok := prev[h]
		f, ok2 := fresh[h]
		if ok != ok2 || p != f {
			return false
		}
	}
	for h := range fresh {
		if !hosts[h] {
			return false
		}
	}
	return true
}

// mergeProblems is prev's problems but those about the retranslated or
// changed Ingresses, and fresh's about Ingresses (the others, about global
// settings, are prev's already), sorted as sortProblems sorts.
func mergeProblems(prev, fresh []Problem, members map[string]bool, changed map[string]*networkingv1.Ingress) []Problem {
	mine := func(ref ObjectRef) bool {
		if ref.Kind != "Ingress" {
			return false
		}
		key := ref.Namespace + "/" + ref.Name
		_, ch := changed[key]
		return members[key] || ch
	}
	out := make([]Problem, 0, len(prev)+len(fresh))
	for _, p := range prev {
		if !mine(p.Object) {
			out = append(out, p)
		}
	}
	for _, p := range fresh {
		if mine(p.Object) {
			out = append(out, p)
		}
	}
	return sortProblems(out)
}
