package translate_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"

	"weir.dev/weir/annotations"
	. "weir.dev/weir/controller/translate"
)

// aliasInputs is ten Ingresses and one more with paths paths and aliases
// server-alias hosts: (aliases+1)*paths routes of its own.
func aliasInputs(paths, aliases int) *Inputs {
	in := sampleInputs(10, 1)
	names := make([]string, aliases)
	for k := range names {
		names[k] = fmt.Sprintf("a%d.tenant.example", k)
	}
	ing := sampleIngress("tenant", "many", "tenant.example", "svc-0",
		map[string]string{annotations.Prefix + "server-alias": strings.Join(names, ",")}, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	pt := networkingv1.PathTypePrefix
	ing.Spec.Rules[0].HTTP.Paths = nil
	for i := 0; i < paths; i++ {
		ing.Spec.Rules[0].HTTP.Paths = append(ing.Spec.Rules[0].HTTP.Paths,
			networkingv1.HTTPIngressPath{Path: fmt.Sprintf("/p%d", i), PathType: &pt, Backend: sampleBackend("svc-0")})
	}
	in.Ingresses = append(in.Ingresses, ing)
	return in
}

// An Ingress with many paths and server aliases gets every alias route.
// Its cost is BenchmarkServerAliases': the alias check once scanned every
// route of the table for every path and alias (quadratic: about 15 s for
// 2,000 paths and 20 aliases, a 150 KB object any tenant may write, and
// with a server-alias anywhere every Ingress change takes the full
// translation); it is one map lookup now.
func TestServerAliasesOnManyPaths(t *testing.T) {
	res := Translate(aliasInputs(200, 20), 1)
	if res.Table == nil || res.Table.Len() != 21*200+20 {
		t.Fatalf("want %d routes, got %v", 21*200+20, res.Table)
	}
}

// BenchmarkServerAliases translates one Ingress with 20 server aliases and
// 500, 1,000 and 2,000 paths: the time per translation grows with the
// paths, not with their square.
func BenchmarkServerAliases(b *testing.B) {
	for _, paths := range []int{500, 1000, 2000} {
		in := aliasInputs(paths, 20)
		b.Run(fmt.Sprintf("paths=%d", paths), func(b *testing.B) {
			for b.Loop() {
				Translate(in, 1)
			}
		})
	}
}

// BenchmarkIngressChange is one Ingress change (a path's backend moves to
// another Service and back) at 1, 1,000 and 10,000 Ingresses: path=full is
// a full Translate of the inputs, path=fast RefreshIngresses on the
// previous result. Compare the two within one run:
//
//	go test ./controller/translate -run '^$' -bench IngressChange -count 5
func BenchmarkIngressChange(b *testing.B) {
	for _, n := range []int{1, 1000, 10000} {
		for _, path := range []string{"full", "fast"} {
			b.Run(fmt.Sprintf("ingresses=%d/path=%s", n, path), func(b *testing.B) {
				in := sampleInputs(n, 2)
				target := in.Ingresses[len(in.Ingresses)-1] // not a canary's main: a plain Ingress
				key := target.Namespace + "/" + target.Name
				services := []string{target.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name, in.Services[0].Name}
				prev := Translate(in, 1)
				declined := 0
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					ing := target.DeepCopy()
					ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name = services[i%2]
					in.Ingresses[len(in.Ingresses)-1] = ing
					gen := uint64(i + 2)
					if path == "full" {
						prev = Translate(in, gen)
						continue
					}
					res, ok := RefreshIngresses(prev, map[string]*networkingv1.Ingress{key: ing}, gen)
					if !ok {
						// As the controller does: every change frees a
						// backend index and appends one, so after about a
						// quarter of the table's size in changes the table
						// is mostly holes (table.ErrSparse) and is built anew.
						declined++
						res = Translate(in, gen)
					}
					prev = res
				}
				if declined > b.N/64+1 {
					b.Fatalf("the fast path declined %d times in %d", declined, b.N)
				}
			})
		}
	}
}
