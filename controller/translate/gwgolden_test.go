package translate_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	"sigs.k8s.io/yaml"

	"weir.dev/weir/controller/manifests"
	. "weir.dev/weir/controller/translate"
	"weir.dev/weir/proxy/table"
)

// TestGatewayGolden translates every testdata/gateway-<feature>/<case>.in.yaml
// and compares the listener tables (<case>.table), the status Weir would
// write (<case>.status) and the problems (<case>.problems).
func TestGatewayGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/gateway-*/*.in.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, inputs)
	for _, in := range inputs {
		name := strings.TrimSuffix(strings.TrimPrefix(in, "testdata/"), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			res := Translate(loadGatewayInputs(t, in), 1)
			base := strings.TrimSuffix(in, ".in.yaml")
			compareGolden(t, base+".table", dumpListeners(res))
			compareGolden(t, base+".status", dumpStatus(t, res))
			compareGolden(t, base+".problems", FormatProblems(res.Problems))
		})
	}
}

// dumpListeners lists each Gateway listener socket and its table.
func dumpListeners(res *Result) string {
	var b strings.Builder
	for _, gl := range res.GatewayListeners {
		fmt.Fprintf(&b, "== %s port %d %s listeners=%v\n", gl.Gateway, gl.Port, gl.Protocol, gl.Listeners)
		var hosts []string
		for h := range gl.Certificates {
			hosts = append(hosts, h)
		}
		sort.Strings(hosts)
		for _, h := range hosts {
			fmt.Fprintf(&b, "certificate %s %v\n", h, gl.Certificates[h].Names())
		}
		if gl.DefaultCertificate != nil {
			fmt.Fprintf(&b, "certificate * %v\n", gl.DefaultCertificate.Names())
		}
		if gl.ClientCAs != nil {
			fmt.Fprintf(&b, "client certificates: %d CA(s), optional=%v\n", len(gl.ClientCAs.Subjects()), gl.ClientCertOptional) //nolint:staticcheck // a count for the dump
		}
		b.WriteString(gl.Table.Dump())
	}
	return b.String()
}

// dumpStatus prints the status Weir would write, one line per object,
// listener and route parent; "gen!" marks a condition whose
// observedGeneration is not the object's generation.
func dumpStatus(t *testing.T, res *Result) string {
	var b strings.Builder
	for _, c := range res.GatewayClasses {
		fmt.Fprintf(&b, "GatewayClass %s: %s\n", c.Name, conds(c.Status.Conditions, c.Generation))
		var fs []string
		for _, f := range c.Status.SupportedFeatures {
			fs = append(fs, string(f.Name))
		}
		fmt.Fprintf(&b, "  features %s\n", strings.Join(fs, ","))
	}
	for _, g := range res.Gateways {
		require.Nil(t, g.Status.Addresses, "addresses are the controller's")
		fmt.Fprintf(&b, "Gateway %s/%s: %s\n", g.Namespace, g.Name, conds(g.Status.Conditions, g.Generation))
		if n := g.Status.AttachedListenerSets; n != nil && *n > 0 {
			fmt.Fprintf(&b, "  attachedListenerSets %d\n", *n)
		}
		for _, l := range g.Status.Listeners {
			var kinds []string
			for _, k := range l.SupportedKinds {
				kinds = append(kinds, string(k.Kind))
			}
			fmt.Fprintf(&b, "  listener %s attached=%d kinds=[%s]: %s\n", l.Name, l.AttachedRoutes, strings.Join(kinds, ","), conds(l.Conditions, g.Generation))
		}
	}
	for _, r := range res.Routes {
		fmt.Fprintf(&b, "%s %s/%s\n", r.Kind, r.Namespace, r.Name)
		for _, p := range r.Parents {
			ref, err := yaml.Marshal(p.ParentRef)
			require.NoError(t, err)
			fmt.Fprintf(&b, "  parent %s by %s: %s\n", strings.ReplaceAll(strings.TrimSpace(string(ref)), "\n", ", "), p.ControllerName, conds(p.Conditions, r.Generation))
		}
	}
	for _, s := range res.ListenerSets {
		fmt.Fprintf(&b, "ListenerSet %s/%s: %s\n", s.Namespace, s.Name, conds(s.Status.Conditions, s.Generation))
		for _, l := range s.Status.Listeners {
			fmt.Fprintf(&b, "  listener %s attached=%d: %s\n", l.Name, l.AttachedRoutes, conds(l.Conditions, s.Generation))
		}
	}
	for _, p := range res.BackendTLSPolicies {
		fmt.Fprintf(&b, "BackendTLSPolicy %s/%s\n", p.Namespace, p.Name)
		for _, a := range p.Ancestors {
			fmt.Fprintf(&b, "  ancestor %s %s/%s by %s: %s\n", *a.AncestorRef.Kind, *a.AncestorRef.Namespace, a.AncestorRef.Name, a.ControllerName, conds(a.Conditions, p.Generation))
		}
	}
	return b.String()
}

func conds(cs []metav1.Condition, gen int64) string {
	var parts []string
	for _, c := range cs {
		s := fmt.Sprintf("%s=%s/%s %q", c.Type, c.Status, c.Reason, c.Message)
		if c.ObservedGeneration != gen {
			s += " gen!"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

var gatewayCodecs = func() serializer.CodecFactory {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{scheme.AddToScheme, gatewayv1.Install, gatewayv1beta1.Install} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return serializer.NewCodecFactory(s)
}()

// loadGatewayInputs reads core and Gateway API objects from a YAML file.
func loadGatewayInputs(t *testing.T, path string) *Inputs {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var core []runtime.Object
	gw := &Inputs{}
	yr := utilyaml.NewYAMLReader(bufio.NewReader(f))
	for {
		doc, err := yr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if strings.TrimSpace(string(doc)) == "" {
			continue
		}
		obj, _, err := gatewayCodecs.UniversalDeserializer().Decode(doc, nil, nil)
		require.NoError(t, err, "%s", doc)
		switch o := obj.(type) {
		case *gatewayv1.GatewayClass:
			gw.GatewayClasses = append(gw.GatewayClasses, o)
		case *gatewayv1.Gateway:
			defaultNS(&o.Namespace)
			gw.Gateways = append(gw.Gateways, o)
		case *gatewayv1.HTTPRoute:
			defaultNS(&o.Namespace)
			gw.HTTPRoutes = append(gw.HTTPRoutes, o)
		case *gatewayv1.GRPCRoute:
			defaultNS(&o.Namespace)
			gw.GRPCRoutes = append(gw.GRPCRoutes, o)
		case *gatewayv1beta1.ReferenceGrant:
			gw.ReferenceGrants = append(gw.ReferenceGrants, (*gatewayv1.ReferenceGrant)(o))
		case *gatewayv1.ReferenceGrant:
			gw.ReferenceGrants = append(gw.ReferenceGrants, o)
		case *corev1.Namespace:
			gw.Namespaces = append(gw.Namespaces, o)
		case *corev1.ConfigMap:
			gw.ConfigMaps = append(gw.ConfigMaps, o)
		case *gatewayv1.ListenerSet:
			defaultNS(&o.Namespace)
			gw.ListenerSets = append(gw.ListenerSets, o)
		case *gatewayv1.BackendTLSPolicy:
			defaultNS(&o.Namespace)
			gw.BackendTLSPolicies = append(gw.BackendTLSPolicies, o)
		default:
			core = append(core, obj)
		}
	}
	in := manifests.Inputs(core, Options{})
	in.GatewayClasses, in.Gateways, in.HTTPRoutes, in.GRPCRoutes = gw.GatewayClasses, gw.Gateways, gw.HTTPRoutes, gw.GRPCRoutes
	in.ReferenceGrants, in.Namespaces, in.ConfigMaps = gw.ReferenceGrants, gw.Namespaces, gw.ConfigMaps
	in.BackendTLSPolicies, in.ListenerSets = gw.BackendTLSPolicies, gw.ListenerSets
	return in
}

func defaultNS(ns *string) {
	if *ns == "" {
		*ns = "default"
	}
}

// TestListenerIsolationLookups sends requests to the table of
// testdata/gateway-hostnames/isolation: each host reaches only the routes of
// the most specific listener matching it.
func TestListenerIsolationLookups(t *testing.T) {
	res := Translate(loadGatewayInputs(t, "testdata/gateway-hostnames/isolation.in.yaml"), 1)
	var tb *table.Table
	for _, gl := range res.GatewayListeners {
		if gl.Gateway.Name == "iso" && gl.Port == 80 {
			tb = gl.Table
		}
	}
	require.NotNil(t, tb)
	listeners := []string{"empty", "wild", "wild-foo", "abc"}
	for host, want := range map[string]string{
		"bar.com": "empty", "bar.example.com": "wild", "bar.foo.example.com": "wild-foo", "abc.foo.example.com": "abc",
	} {
		for _, l := range listeners {
			rt := tb.Lookup(host, "/"+l, httptest.NewRequest("GET", "/"+l, nil))
			if l != want {
				assert.Nil(t, rt, "%s /%s", host, l)
				continue
			}
			if assert.NotNil(t, rt, "%s /%s", host, l) {
				assert.Equal(t, "to-"+want, rt.Source.Name, host)
			}
		}
	}
}
