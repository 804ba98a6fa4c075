package translate_test

import (
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"weir.dev/weir/annotations"
	. "weir.dev/weir/controller/translate"
)

// TestRulelessDefaultBackendKeepsItsAccessAnnotations: an Ingress with only
// spec.defaultBackend answers every request no rule matches (ingress-nginx's
// catch-all location, to which it applies the Ingress's annotations). Its
// access annotations must hold there too: an auth that cannot be enforced
// closes it (503), and a source range restricts it.
func TestRulelessDefaultBackendKeepsItsAccessAnnotations(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	catchAll := func(ann map[string]string) *Inputs {
		in := &Inputs{IngressClasses: []*networkingv1.IngressClass{{ObjectMeta: metav1.ObjectMeta{Name: "weir"},
			Spec: networkingv1.IngressClassSpec{Controller: DefaultControllerClass}}}}
		in.Services = append(in.Services, sampleService("default", "admin"))
		in.EndpointSlices = append(in.EndpointSlices, sampleSlice("default", "admin", 1, 1))
		b := sampleBackend("admin")
		in.Ingresses = append(in.Ingresses, &networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Name: "catchall", Namespace: "default", Annotations: ann, CreationTimestamp: metav1.NewTime(t0)},
			Spec:       networkingv1.IngressSpec{IngressClassName: ptr.To("weir"), DefaultBackend: &b},
		})
		return in
	}

	// auth-type basic whose Secret is missing: "every path answers 503".
	res := Translate(catchAll(map[string]string{
		annotations.Prefix + "auth-type":   "basic",
		annotations.Prefix + "auth-secret": "missing",
	}), 1)
	require.NotNil(t, res.Table)
	def := res.Table.Default()
	require.NotNil(t, def)
	require.NotNil(t, def.Respond, "the default action forwards without the auth the problem says closes it:\n%s", res.Table.Dump())
	require.Equal(t, http.StatusServiceUnavailable, def.Respond.Status)

	// A source range restricts the default action too.
	res = Translate(catchAll(map[string]string{annotations.Prefix + "whitelist-source-range": "10.0.0.0/8"}), 1)
	def = res.Table.Default()
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, def.SourceAllow, "\n%s", res.Table.Dump())
}
