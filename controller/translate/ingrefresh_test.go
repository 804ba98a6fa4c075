package translate_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"maps"
	"math/big"
	mrand "math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"weir.dev/weir/annotations"
	"weir.dev/weir/controller/manifests"
	. "weir.dev/weir/controller/translate"
	"weir.dev/weir/proxy/table"
)

// ingWorld is a small random cluster for the Ingress fast path's
// differential test: few hosts and Services, so that Ingresses often share
// hosts, conflict, pair with canaries and miss their Services.
type ingWorld struct {
	r     *mrand.Rand
	in    *Inputs
	t0    time.Time
	names int
}

var (
	worldHosts    = []string{"a.test", "b.test", "c.test", "d.test", "e.test", "f.test", "g.test", "*.w.test", "x.w.test", "", "Bad_Host"}
	worldPaths    = []string{"/", "/api", "/api/v1", "x"}
	worldServices = []string{"s0", "s1", "s2", "s3", "missing"}
)

func newIngWorld(t testing.TB, seed uint64) *ingWorld {
	w := &ingWorld{r: mrand.New(mrand.NewPCG(seed, 7)), t0: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	w.in = &Inputs{IngressClasses: []*networkingv1.IngressClass{{ObjectMeta: metav1.ObjectMeta{Name: "weir"},
		Spec: networkingv1.IngressClassSpec{Controller: DefaultControllerClass}}}}
	for _, ns := range []string{"n1", "n2"} {
		for i, svc := range worldServices[:4] {
			w.in.Services = append(w.in.Services, sampleService(ns, svc))
			w.in.EndpointSlices = append(w.in.EndpointSlices, sampleSlice(ns, svc, i, i%3)) // s0 and s3 without endpoints
		}
		w.in.Secrets = append(w.in.Secrets, testTLSSecret(t, ns, "tls", "a.test", "*.w.test"))
	}
	for range 12 {
		w.in.Ingresses = append(w.in.Ingresses, w.newIngress())
	}
	return w
}

func (w *ingWorld) pick(list []string) string { return list[w.r.IntN(len(list))] }

// newIngress is a random Ingress with a new name.
func (w *ingWorld) newIngress() *networkingv1.Ingress {
	w.names++
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: w.pick([]string{"n1", "n2"}), Name: fmt.Sprintf("ing%d", w.names),
		CreationTimestamp: metav1.NewTime(w.t0.Add(time.Duration(w.r.IntN(20)) * time.Second))}}
	w.randomize(ing)
	return ing
}

// randomize gives ing a random spec and annotations (name, namespace and
// creation time stay).
func (w *ingWorld) randomize(ing *networkingv1.Ingress) {
	r := w.r
	ing.Annotations = nil
	ing.Spec = networkingv1.IngressSpec{IngressClassName: ptr.To("weir")}
	if r.IntN(10) == 0 {
		ing.Spec.IngressClassName = ptr.To("other")
	}
	for range r.IntN(2) + 1 {
		rule := networkingv1.IngressRule{Host: w.pick(worldHosts), IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{}}}
		for range r.IntN(3) + 1 {
			rule.HTTP.Paths = append(rule.HTTP.Paths, networkingv1.HTTPIngressPath{Path: w.pick(worldPaths),
				PathType: []*networkingv1.PathType{nil, ptr.To(networkingv1.PathTypePrefix), ptr.To(networkingv1.PathTypeExact),
					ptr.To(networkingv1.PathTypeImplementationSpecific)}[r.IntN(4)],
				Backend: w.backend()})
		}
		ing.Spec.Rules = append(ing.Spec.Rules, rule)
	}
	ann := map[string]string{}
	set := func(oneIn int, key, value string) {
		if r.IntN(oneIn) == 0 {
			ann[annotations.Prefix+key] = value
		}
	}
	set(3, "canary", "true")
	set(3, "canary-weight", fmt.Sprint(r.IntN(100)))
	set(6, "canary-by-header", "X-Canary")
	set(8, "use-regex", "true")
	set(10, "rewrite-target", "/")
	set(10, "app-root", "/app")
	set(8, "ssl-redirect", "false")
	set(10, "proxy-read-timeout", "7")
	set(200, "load-balance", "ewma")
	set(200, "server-alias", "alias.test")
	if len(ann) > 0 {
		ing.Annotations = ann
	}
	if r.IntN(15) == 0 {
		ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{w.pick(worldHosts)}, SecretName: w.pick([]string{"tls", "nope"})}}
	}
	if r.IntN(40) == 0 {
		b := w.backend()
		ing.Spec.DefaultBackend = &b
	}
}

func (w *ingWorld) backend() networkingv1.IngressBackend {
	port := networkingv1.ServiceBackendPort{Number: 80}
	switch w.r.IntN(6) {
	case 0:
		port = networkingv1.ServiceBackendPort{Name: "http"}
	case 1:
		port = networkingv1.ServiceBackendPort{Number: 81}
	}
	return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: w.pick(worldServices), Port: port}}
}

// edit changes the Ingresses at random and returns what changed.
func (w *ingWorld) edit() map[string]*networkingv1.Ingress {
	changed := map[string]*networkingv1.Ingress{}
	for range w.r.IntN(2) + 1 {
		ings := w.in.Ingresses
		switch op := w.r.IntN(6); {
		case op == 0 || len(ings) == 0:
			ing := w.newIngress()
			w.in.Ingresses = append(ings, ing)
			changed[ing.Namespace+"/"+ing.Name] = ing
		case op == 1:
			i := w.r.IntN(len(ings))
			changed[ings[i].Namespace+"/"+ings[i].Name] = nil
			w.in.Ingresses = slices.Delete(slices.Clone(ings), i, i+1)
		default:
			i := w.r.IntN(len(ings))
			ing := ings[i].DeepCopy()
			if op == 2 {
				w.randomize(ing)
			} else { // the usual change: one path's backend
				rule := ing.Spec.Rules[w.r.IntN(len(ing.Spec.Rules))]
				if rule.HTTP != nil && len(rule.HTTP.Paths) > 0 {
					rule.HTTP.Paths[w.r.IntN(len(rule.HTTP.Paths))].Backend = w.backend()
				}
			}
			w.in.Ingresses = slices.Clone(ings)
			w.in.Ingresses[i] = ing
			changed[ing.Namespace+"/"+ing.Name] = ing
		}
	}
	return changed
}

// moveEndpoints changes one Service's endpoints without emptying or
// filling it, and applies the endpoint fast path to prev.
func (w *ingWorld) moveEndpoints(prev *Result, gen uint64) *Result {
	svc := w.in.Services[1+w.r.IntN(2)] // s1 or s2: they have endpoints
	s := sampleSlice(svc.Namespace, svc.Name, 100+int(gen), 1+w.r.IntN(2))
	w.in.EndpointSlices = replaceSlices(w.in.EndpointSlices, svc, s)
	res, ok := Refresh(prev, &Inputs{Services: []*corev1.Service{svc}, EndpointSlices: []*discoveryv1.EndpointSlice{s}},
		map[string]bool{svc.Namespace + "/" + svc.Name: true}, gen)
	if !ok {
		return Translate(w.in, gen)
	}
	return res
}

// sameResult fails unless fast is what a full translation gives: the same
// routes on every host, default action and backends (in any order; New
// numbers backends by route order, which differs), certificates and
// problems.
func sameResult(t testing.TB, full, fast *Result, msg string) {
	t.Helper()
	require.NotNil(t, fast.Table, msg)
	require.Equal(t, canonicalDump(full.Table.Dump()), canonicalDump(fast.Table.Dump()), msg)
	require.Equal(t, liveBackends(full.Table), liveBackends(fast.Table), "%s: shared backends stay shared", msg)
	require.Equal(t, FormatProblems(full.Problems), FormatProblems(fast.Problems), msg)
	require.Equal(t, full.CertificateSecrets, fast.CertificateSecrets, msg)
	require.ElementsMatch(t, slices.Collect(maps.Keys(full.Certificates)), slices.Collect(maps.Keys(fast.Certificates)), msg)
	require.Equal(t, poolKeys(full), poolKeys(fast), msg)
}

// liveBackends counts a table's backends (a derived table has holes).
func liveBackends(tb *table.Table) int {
	n := 0
	for _, b := range tb.Backends() {
		if b != nil {
			n++
		}
	}
	return n
}

// requireShared fails unless every route of prev on a host fast did not
// change is fast's too, at the same index, with the same action (the fast
// path shares the kept hosts' routes instead of copying them).
func requireShared(t testing.TB, prev, fast *Result, msg string) {
	t.Helper()
	if fast.Table.Changes() == nil {
		return
	}
	changed := map[string]bool{}
	for _, h := range fast.HostsChanged {
		changed[h] = true
	}
	for i, r := range prev.Table.Routes() {
		if r == nil || changed[r.Host] {
			continue
		}
		require.Same(t, r, fast.Table.Route(i), "%s: route %d (%s %s) is shared", msg, i, r.Host, r.Path.Value)
		require.Equal(t, i, r.Index(), msg)
	}
	// What differs is what Changes names: the proxy rebuilds only that.
	ch := fast.Table.Changes()
	for i, r := range fast.Table.Routes() {
		if prev.Table.Route(i) != r {
			require.Contains(t, ch.Routes, i, "%s: route %d differs", msg, i)
		}
	}
	for i, b := range fast.Table.Backends() {
		if prev.Table.Backend(i) != b {
			require.Contains(t, ch.Backends, i, "%s: backend %d differs", msg, i)
		}
	}
}

func poolKeys(res *Result) map[string]bool {
	out := map[string]bool{}
	for h, p := range res.ClientCertHosts {
		out[h] = p != nil
	}
	return out
}

// canonicalDump is a table dump with its backend blocks sorted.
func canonicalDump(d string) string {
	head, rest, _ := strings.Cut(strings.TrimSuffix(d, "\n"), "\nbackend ")
	blocks := strings.Split(rest, "\nbackend ")
	sort.Strings(blocks)
	return head + "\nbackend " + strings.Join(blocks, "\nbackend ")
}

// runIngWorld applies steps random edits, each through RefreshIngresses
// when it applies, and checks every fast result against a full
// translation. It returns how many edits took the fast path.
func runIngWorld(t testing.TB, seed uint64, steps int) int {
	w := newIngWorld(t, seed)
	prev := Translate(w.in, 1)
	require.NotNil(t, prev.Table)
	fast := 0
	for step := 2; step < steps+2; step++ {
		gen := uint64(step)
		if w.r.IntN(8) == 0 {
			prev = w.moveEndpoints(prev, gen)
			continue
		}
		changed := w.edit()
		before := prev.Table.Dump()
		res, ok := RefreshIngresses(prev, changed, gen)
		full := Translate(w.in, gen)
		require.Equal(t, before, prev.Table.Dump(), "seed %d step %d: the table in service is left alone", seed, step)
		if !ok {
			prev = full
			continue
		}
		fast++
		sameResult(t, full, res, fmt.Sprintf("seed %d step %d", seed, step))
		requireShared(t, prev, res, fmt.Sprintf("seed %d step %d", seed, step))
		require.Equal(t, gen, res.Table.Generation())
		prev = res
	}
	return fast
}

// TestRefreshIngressesEqualsAFullTranslation is the differential test of
// the Ingress fast path: random sequences of Ingress edits (adds, deletes,
// new specs and annotations, a path's backend), with endpoint changes in
// between; each fast result must equal a full translation of the same
// inputs.
func TestRefreshIngressesEqualsAFullTranslation(t *testing.T) {
	fast, total := 0, 0
	for seed := range uint64(20) {
		fast += runIngWorld(t, seed, 60)
		total += 60
	}
	require.Greater(t, fast, total/5, "the fast path is taken for many of the edits")
}

// FuzzRefreshIngresses runs the differential test from fuzzed seeds
// (go test -fuzz FuzzRefreshIngresses ./controller/translate).
func FuzzRefreshIngresses(f *testing.F) {
	f.Add(uint64(1), uint8(30))
	f.Fuzz(func(t *testing.T, seed uint64, steps uint8) {
		runIngWorld(t, seed, int(steps%80))
	})
}

func TestRefreshIngressesDeclines(t *testing.T) {
	in := sampleInputs(20, 1)
	prev := Translate(in, 1)
	ing := in.Ingresses[0].DeepCopy()
	ing.Spec.TLS = []networkingv1.IngressTLS{{SecretName: "x"}}
	_, ok := RefreshIngresses(prev, map[string]*networkingv1.Ingress{ing.Namespace + "/" + ing.Name: ing}, 2)
	require.False(t, ok, "a changed Ingress with spec.tls takes the full path")
	ing.Spec.TLS = nil
	ing.Spec.DefaultBackend = &ing.Spec.Rules[0].HTTP.Paths[0].Backend
	_, ok = RefreshIngresses(prev, map[string]*networkingv1.Ingress{ing.Namespace + "/" + ing.Name: ing}, 2)
	require.False(t, ok, "so does one with spec.defaultBackend")
	ing = in.Ingresses[0].DeepCopy()
	ing.Spec.Rules[0].HTTP.Paths[0].Path = "/new"
	res, ok := RefreshIngresses(prev, map[string]*networkingv1.Ingress{ing.Namespace + "/" + ing.Name: ing}, 4)
	require.True(t, ok)
	require.Contains(t, res.Table.Dump(), "prefix /new from Ingress "+ing.Namespace+"/"+ing.Name)
}

// testTLSSecret is a kubernetes.io/tls Secret with a self-signed ECDSA
// certificate for hosts.
func testTLSSecret(t testing.TB, ns, name string, hosts ...string) *corev1.Secret {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: hosts[0]}, DNSNames: hosts,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})}}
}

// TestRefreshIngressesKeepsTheCertificateMaps: a fast-path change that
// touches no TLS hands on the previous result's certificate and
// client-certificate maps themselves, which tells the publisher that its
// certificate snapshot stands (cmd/weir/run.go).
func TestRefreshIngressesKeepsTheCertificateMaps(t *testing.T) {
	objs, err := manifests.Load("testdata/annotations/auth-tls.in.yaml")
	require.NoError(t, err)
	in := manifests.Inputs(objs, Options{})
	in.Ingresses = append(in.Ingresses, sampleInputs(3, 1).Ingresses...)
	prev := Translate(in, 1)
	require.NotEmpty(t, prev.ClientCertHosts)
	ing := in.Ingresses[len(in.Ingresses)-1].DeepCopy()
	ing.Spec.Rules[0].HTTP.Paths[0].Path = "/new"
	res, ok := RefreshIngresses(prev, map[string]*networkingv1.Ingress{ing.Namespace + "/" + ing.Name: ing}, 2)
	require.True(t, ok)
	require.Equal(t, reflect.ValueOf(prev.Certificates).UnsafePointer(), reflect.ValueOf(res.Certificates).UnsafePointer())
	require.Equal(t, reflect.ValueOf(prev.ClientCertHosts).UnsafePointer(), reflect.ValueOf(res.ClientCertHosts).UnsafePointer(),
		"the client-certificate hosts are the previous result's map")
}
