package e2e

import (
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// TestBadInput applies Ingresses with mistakes: each gets a Warning Event
// naming the problem, the broken part is left out, and every other route
// keeps answering.
func TestBadInput(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ns := namespace(t, ctx)
	c := client()
	echoApp(t, ctx, ns, "web", 1)
	good := "good." + ns + ".test"
	createIngress(t, ctx, ingress(ns, "good", good, "web", nil))
	waitServed(t, c, good, nil, "web")

	// A canary with a weight that is not a number: the canary is kept with
	// weight 0, the main route is untouched.
	canaryHost := "canary." + ns + ".test"
	createIngress(t, ctx, ingress(ns, "main", canaryHost, "web", nil))
	createIngress(t, ctx, ingress(ns, "bad-weight", canaryHost, "web", canaryAnnotations(map[string]string{"canary-weight": "twenty"})))
	// A canary header pattern that is not a regular expression.
	createIngress(t, ctx, ingress(ns, "bad-pattern", canaryHost, "web", canaryAnnotations(map[string]string{
		"canary-by-header": "X-Canary", "canary-by-header-pattern": "(["})))
	// A Service that does not exist.
	missing := "missing." + ns + ".test"
	createIngress(t, ctx, ingress(ns, "missing", missing, "nope", nil))
	// A regex path that does not compile, next to one that does.
	regexHost := "regex." + ns + ".test"
	createIngress(t, ctx, regexIngress(ns, "bad-regex", regexHost, []string{"/([", "/fine"}, "web"))

	waitEvent(t, ns, "bad-weight", "InvalidCanaryWeight")
	waitEvent(t, ns, "bad-pattern", "InvalidCanaryHeaderPattern")
	waitEvent(t, ns, "missing", "ServiceNotFound")
	waitEvent(t, ns, "bad-regex", "InvalidPath")

	waitStatus(t, c, missing, http.StatusServiceUnavailable)
	waitPath(t, regexHost, "/fine", "web")
	expectAll(t, c, canaryHost, nil, "web", 20)
	expectAll(t, c, good, nil, "web", 20)
}

// regexIngress has one host with use-regex paths to svc:80.
func regexIngress(ns, name, host string, paths []string, svc string) *networkingv1.Ingress {
	ing := ingress(ns, name, host, svc, map[string]string{canaryPrefix + "use-regex": "true"})
	impl := networkingv1.PathTypeImplementationSpecific
	ing.Spec.Rules[0].HTTP.Paths = nil
	for _, p := range paths {
		ing.Spec.Rules[0].HTTP.Paths = append(ing.Spec.Rules[0].HTTP.Paths,
			networkingv1.HTTPIngressPath{Path: p, PathType: &impl, Backend: backend(svc, 80)})
	}
	return ing
}

// waitEvent waits for a Warning Event with reason on the Ingress name.
func waitEvent(t *testing.T, ns, name, reason string) {
	t.Helper()
	waitEventOn(t, "Ingress", ns, name, reason)
}

// waitEventOn waits for a Warning Event with reason on an object.
func waitEventOn(t *testing.T, kind, ns, name, reason string) {
	t.Helper()
	ctx := ctxFor(t, 60*time.Second)
	sel := fields.Set{"involvedObject.kind": kind, "involvedObject.name": name}.AsSelector().String()
	var seen []string
	for {
		list, err := env.cluster.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: sel})
		if err == nil {
			seen = seen[:0]
			for _, e := range list.Items {
				if e.Reason == reason && e.Type == corev1.EventTypeWarning {
					t.Logf("Event on %s %s: %s: %s", kind, name, e.Reason, e.Message)
					return
				}
				seen = append(seen, e.Reason)
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no Warning Event %s on %s %s/%s within 60 s; reasons seen: %v", reason, kind, ns, name, seen)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
