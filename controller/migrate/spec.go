package migrate

import (
	"sort"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"weir.dev/weir/controller/offline"
	"weir.dev/weir/controller/translate"
)

// route is one host and path of an Ingress.
type route struct {
	host, path string
	exact      bool
	service    string // namespace/name:port of the backend, "" for none
}

func routes(ing *networkingv1.Ingress) []route {
	var out []route
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for _, p := range r.HTTP.Paths {
			path := p.Path
			if path == "" {
				path = "/"
			}
			rt := route{host: strings.ToLower(r.Host), path: path,
				exact: p.PathType != nil && *p.PathType == networkingv1.PathTypeExact}
			if s := p.Backend.Service; s != nil {
				port := s.Port.Name
				if port == "" {
					port = strconv.Itoa(int(s.Port.Number))
				}
				rt.service = ing.Namespace + "/" + s.Name + ":" + port
			}
			out = append(out, rt)
		}
	}
	return out
}

func (r route) key() string { return r.host + " " + r.path + " " + strconv.FormatBool(r.exact) }

// pairs are the canary Ingresses and the main Ingresses they split, both
// ways, by namespace/name.
type pairs struct {
	with map[string][]string
	// mainRoutes are the main routes each canary pairs with.
	mainRoutes map[string][]route
}

func (p *pairs) of(ing *networkingv1.Ingress) []string { return p.with[ref(ing)] }

// pairCanaries pairs each canary with the main Ingresses that have its
// host, path and exactness.
func pairCanaries(nginx []*networkingv1.Ingress) *pairs {
	mains := map[string][]*networkingv1.Ingress{}
	for _, ing := range nginx {
		if !isCanary(ing) {
			for _, r := range routes(ing) {
				mains[r.key()] = append(mains[r.key()], ing)
			}
		}
	}
	p := &pairs{with: map[string][]string{}, mainRoutes: map[string][]route{}}
	for _, c := range nginx {
		if !isCanary(c) {
			continue
		}
		for _, r := range routes(c) {
			for _, m := range mains[r.key()] {
				p.link(ref(c), ref(m))
				for _, mr := range routes(m) {
					if mr.key() == r.key() {
						p.mainRoutes[ref(c)] = append(p.mainRoutes[ref(c)], mr)
					}
				}
			}
		}
	}
	return p
}

func (p *pairs) link(a, b string) {
	add := func(x, y string) {
		for _, v := range p.with[x] {
			if v == y {
				return
			}
		}
		p.with[x] = append(p.with[x], y)
		sort.Strings(p.with[x])
	}
	add(a, b)
	add(b, a)
}

// specFindings are the problems Weir's own translation finds in the nginx
// Ingresses, taken as Weir's: paths, hosts, backends and pairing. The
// annotations are answered one by one elsewhere, and what depends on the
// cluster's state (endpoints) is no finding.
func specFindings(nginx []*networkingv1.Ingress, opts Options) map[string][]Finding {
	objs := make([]runtime.Object, len(nginx))
	for i, ing := range nginx {
		objs[i] = ing
	}
	res := offline.Lint(objs, translate.Options{ControllerClass: opts.ControllerClass}, offline.LintOptions{All: true})
	out := map[string][]Finding{}
	for _, p := range res.Problems {
		if strings.HasPrefix(p.Field, "metadata.annotations") {
			continue
		}
		k := p.Object.Namespace + "/" + p.Object.Name
		out[k] = append(out[k], specFinding(p))
	}
	return out
}

func specFinding(p translate.Problem) Finding {
	f := Finding{Key: p.Field, Status: NotHonoured, Detail: p.Reason + ": " + p.Message}
	switch p.Reason {
	case translate.ReasonCanaryWithoutMain, translate.ReasonCanaryConflict:
		f.Status, f.Link = Difference, differencesDoc
	case translate.ReasonPathConflict, translate.ReasonBackendSettings:
		// ingress-nginx resolves both the same way: the oldest Ingress wins.
		f.Status = NoOp
		f.Detail += " (as in ingress-nginx)"
	}
	return f
}
