package translate

import (
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

// FuzzTranslate puts fuzz input into the annotations, paths and hosts of a
// main and a canary Ingress and checks that translation never panics, always
// yields a table, and that every problem names its object and reason.
func FuzzTranslate(f *testing.F) {
	f.Add("canary-weight=10\ncanary-by-header=X", "/api", "a.example.com", "ImplementationSpecific", "use-regex=true")
	f.Add("canary-by-header-pattern=(", "/(", "*.example.com", "Exact", "rewrite-target=/$1")
	f.Add("canary-weight=-1", "", "bad*host", "Prefix", "allowlist-source-range=1.2.3.4/99")
	f.Fuzz(func(t *testing.T, canaryAnn, path, host, pathType, mainAnn string) {
		in := benchInputs(2)
		main, canary := in.Ingresses[0], in.Ingresses[1]
		main.Annotations = parseKV(mainAnn)
		canary.Annotations = parseKV(canaryAnn)
		canary.Annotations["nginx.ingress.kubernetes.io/canary"] = "true"
		canary.Spec.Rules[0].Host = host
		for _, ing := range []*networkingv1.Ingress{main, canary} {
			pt := networkingv1.PathType(pathType)
			ing.Spec.Rules[0].HTTP.Paths[0].Path = path
			ing.Spec.Rules[0].HTTP.Paths[0].PathType = &pt
		}
		main.Spec.Rules[0].Host = host
		res := Translate(in, 1)
		if res.Table == nil {
			t.Fatalf("no table: %v", res.Problems)
		}
		_ = res.Table.Dump()
		for _, p := range res.Problems {
			if p.Object.Kind == "" || p.Reason == "" || p.Message == "" {
				t.Fatalf("incomplete problem %+v", p)
			}
		}
	})
}

func parseKV(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		k, v, _ := strings.Cut(line, "=")
		if k != "" {
			m["nginx.ingress.kubernetes.io/"+k] = v
		}
	}
	return m
}
