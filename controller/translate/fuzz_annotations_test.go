package translate_test

import (
	"bytes"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"weir.dev/weir/annotations"
	. "weir.dev/weir/controller/translate"
)

// fuzzKeys are the annotations the fuzzer sets, in the order of the
// NUL-separated fields after the first three (host, path, pathType).
var fuzzKeys = []string{
	"canary", "canary-weight", "canary-weight-total", "canary-by-header", "canary-by-header-value",
	"canary-by-header-pattern", "canary-by-cookie", "use-regex", "rewrite-target", "backend-protocol",
	"proxy-body-size", "proxy-next-upstream", "proxy-next-upstream-tries", "load-balance",
	"upstream-hash-by", "affinity", "session-cookie-samesite", "permanent-redirect", "app-root",
	"server-alias", "ssl-redirect", "allowlist-source-range", "upstream-vhost",
}

// FuzzTranslateAnnotations feeds arbitrary hosts, paths, path types and annotation
// values to a main Ingress and a canary Ingress on the same host. The
// translation must never panic, must always build a table (validation
// catches everything table.New would reject) and must be deterministic.
// Seeds live in testdata/fuzz/FuzzTranslateAnnotations and run as ordinary tests.
func FuzzTranslateAnnotations(f *testing.F) {
	f.Add([]byte("a.example.com\x00/\x00Prefix\x00true\x0010"))
	f.Add([]byte("*.example.com\x00/api/(.*)\x00ImplementationSpecific\x00\x00\x00\x00\x00\x00\x00\x00true\x00/$1"))
	f.Add([]byte("b.example.com\x00/x\x00Exact\x00true\x00150\x000\x00X-Canary\x00v2\x00(?<=x)\x00a;b"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fields := bytes.Split(data, []byte{0})
		field := func(i int) string {
			if i < len(fields) {
				return string(fields[i])
			}
			return ""
		}
		ann := map[string]string{}
		for i, k := range fuzzKeys {
			if v := field(3 + i); v != "" {
				ann[annotations.Prefix+k] = v
			}
		}
		in := fuzzInputs(field(0), field(1), field(2), ann)
		a := Translate(in, 1)
		if a.Table == nil {
			t.Fatalf("no table; problems:\n%s", FormatProblems(a.Problems))
		}
		b := Translate(fuzzInputs(field(0), field(1), field(2), ann), 1)
		if a.Table.Dump() != b.Table.Dump() || FormatProblems(a.Problems) != FormatProblems(b.Problems) {
			t.Fatal("translation is not deterministic")
		}
	})
}

func fuzzInputs(host, path, pathType string, ann map[string]string) *Inputs {
	canaryAnn := map[string]string{}
	for k, v := range ann {
		canaryAnn[k] = v
	}
	canaryAnn[annotations.Prefix+"canary"] = "true"
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	main := fuzzIngress("main", host, path, pathType, "v1", ann, t0)
	canary := fuzzIngress("canary", host, path, pathType, "v2", canaryAnn, metav1.NewTime(t0.Add(time.Hour)))
	return &Inputs{
		Ingresses:      []*networkingv1.Ingress{main, canary},
		IngressClasses: []*networkingv1.IngressClass{{ObjectMeta: metav1.ObjectMeta{Name: "weir"}, Spec: networkingv1.IngressClassSpec{Controller: DefaultControllerClass}}},
		Services:       []*corev1.Service{sampleService("default", "v1"), sampleService("default", "v2")},
		EndpointSlices: []*discoveryv1.EndpointSlice{sampleSlice("default", "v1", 1, 2), sampleSlice("default", "v2", 2, 1)},
	}
}

func fuzzIngress(name, host, path, pathType, svc string, ann map[string]string, created metav1.Time) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Annotations: ann, CreationTimestamp: created},
		Spec: networkingv1.IngressSpec{
			IngressClassName: ptr.To("weir"),
			TLS:              []networkingv1.IngressTLS{{Hosts: []string{host}}},
			Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{
				HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
					Path: path, Backend: sampleBackend(svc),
				}}}}}},
		},
	}
	if pathType != "" {
		pt := networkingv1.PathType(pathType)
		ing.Spec.Rules[0].HTTP.Paths[0].PathType = &pt
	}
	return ing
}
