package translate_test

import (
	"fmt"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	. "weir.dev/weir/controller/translate"
)

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
