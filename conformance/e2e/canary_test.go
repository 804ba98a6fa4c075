package e2e

import (
	"math"
	"net/http"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
)

const canaryPrefix = "nginx.ingress.kubernetes.io/"

// canaryApp creates Deployments "stable" and "canary" with their Services,
// the main Ingress to stable and a canary Ingress to canary with the given
// canary annotations (prefix added), on host.
func canaryApp(t *testing.T, ns, host string, annotations map[string]string) {
	ctx := ctxFor(t, 2*time.Minute)
	echoApp(t, ctx, ns, "stable", 1)
	echoApp(t, ctx, ns, "canary", 1)
	createIngress(t, ctx, ingress(ns, "main", host, "stable", nil))
	createIngress(t, ctx, ingress(ns, "canary", host, "canary", canaryAnnotations(annotations)))
}

func canaryAnnotations(a map[string]string) map[string]string {
	out := map[string]string{canaryPrefix + "canary": "true"}
	for k, v := range a {
		out[canaryPrefix+k] = v
	}
	return out
}

// setCanary replaces the canary Ingress's annotations.
func setCanary(t *testing.T, ns string, annotations map[string]string) {
	updateIngress(t, ctxFor(t, 30*time.Second), ns, "canary", func(ing *networkingv1.Ingress) {
		ing.Annotations = canaryAnnotations(annotations)
	})
}

// expectAll sends n GETs and fails unless every one is answered by want.
func expectAll(t *testing.T, c *http.Client, host string, header http.Header, want string, n int) {
	t.Helper()
	got := tally(t, c, host, header, n)
	if got[want] != n {
		t.Errorf("%s with %v: want all %d requests on %s, got %v", host, header, n, want, got)
	}
}

func h(kv ...string) http.Header {
	out := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Add(kv[i], kv[i+1])
	}
	return out
}

// share is the canary's share in percent of n requests that must all succeed.
func share(t *testing.T, c *http.Client, host string, n int) float64 {
	t.Helper()
	got := tally(t, c, host, nil, n)
	if got[""] > 0 {
		t.Errorf("%d of %d requests failed: %v", got[""], n, got)
	}
	return 100 * float64(got["canary"]) / float64(n)
}

// TestCanaryWeight checks the observed canary share for weight 20 and, after
// an update, 80, over 1000 requests each. The tolerance, 4.5 points, is
// about 3.5 standard deviations of a binomial share at n=1000 (1.26 points
// at 20 %), so a correct split fails it about once in 2000 runs.
func TestCanaryWeight(t *testing.T) {
	ns := namespace(t, ctxFor(t, time.Minute))
	host := "weight." + ns + ".test"
	canaryApp(t, ns, host, map[string]string{"canary-weight": "20"})
	c := client()
	waitServed(t, c, host, nil, "canary")
	const n, tol = 1000, 4.5
	if got := share(t, c, host, n); math.Abs(got-20) > tol {
		t.Errorf("weight 20: canary share %.1f %%, want 20 ± %.1f", got, tol)
	} else {
		t.Logf("weight 20: canary share %.1f %% of %d", got, n)
	}
	setCanary(t, ns, map[string]string{"canary-weight": "80"})
	// Wait until the change shows: a majority of 100 on the canary.
	deadline := time.Now().Add(60 * time.Second)
	for share(t, c, host, 100) < 50 {
		if time.Now().After(deadline) {
			t.Fatal("weight 80 not in effect after 60 s")
		}
	}
	if got := share(t, c, host, n); math.Abs(got-80) > tol {
		t.Errorf("weight 80: canary share %.1f %%, want 80 ± %.1f", got, tol)
	} else {
		t.Logf("weight 80: canary share %.1f %% of %d", got, n)
	}
}

// TestCanaryRules checks the header and cookie rules and the order in which
// they apply (header, then cookie, then weight), one configuration at a
// time on the same canary Ingress.
func TestCanaryRules(t *testing.T) {
	ns := namespace(t, ctxFor(t, time.Minute))
	host := "rules." + ns + ".test"
	canaryApp(t, ns, host, map[string]string{"canary-by-header": "X-Canary"})
	c := client()
	const n = 20
	step := func(name string, annotations map[string]string, ready http.Header, cases func(t *testing.T)) {
		t.Run(name, func(t *testing.T) {
			setCanary(t, ns, annotations)
			waitServed(t, c, host, ready, "canary")
			cases(t)
		})
	}
	step("header", map[string]string{"canary-by-header": "X-Canary"}, h("X-Canary", "always"), func(t *testing.T) {
		expectAll(t, c, host, h("X-Canary", "always"), "canary", n)
		expectAll(t, c, host, h("x-canary", "always"), "canary", n) // names are case-insensitive
		expectAll(t, c, host, h("X-Canary", "never"), "stable", n)
		expectAll(t, c, host, h("X-Canary", "maybe"), "stable", n) // present, no match, weight 0
		expectAll(t, c, host, nil, "stable", n)
	})
	step("header value", map[string]string{"canary-by-header": "X-Canary", "canary-by-header-value": "beta"}, h("X-Canary", "beta"), func(t *testing.T) {
		expectAll(t, c, host, h("X-Canary", "beta"), "canary", n)
		expectAll(t, c, host, h("X-Canary", "Beta"), "stable", n) // values are case-sensitive
		expectAll(t, c, host, h("X-Canary", "always"), "stable", n)
		expectAll(t, c, host, nil, "stable", n)
	})
	step("header pattern", map[string]string{"canary-by-header": "X-Canary", "canary-by-header-pattern": "^beta-[0-9]+$"}, h("X-Canary", "beta-1"), func(t *testing.T) {
		expectAll(t, c, host, h("X-Canary", "beta-42"), "canary", n)
		expectAll(t, c, host, h("X-Canary", "beta-x"), "stable", n)
		expectAll(t, c, host, nil, "stable", n)
	})
	step("cookie", map[string]string{"canary-by-cookie": "canary"}, h("Cookie", "canary=always"), func(t *testing.T) {
		expectAll(t, c, host, h("Cookie", "a=b; canary=always"), "canary", n)
		expectAll(t, c, host, h("Cookie", "canary=never"), "stable", n)
		expectAll(t, c, host, h("Cookie", "canary=yes"), "stable", n)
		expectAll(t, c, host, nil, "stable", n)
	})
	all := map[string]string{"canary-by-header": "X-Canary", "canary-by-cookie": "canary", "canary-weight": "100"}
	step("precedence", all, nil, func(t *testing.T) {
		// Header first: never stops even a cookie saying always and weight 100.
		expectAll(t, c, host, h("X-Canary", "never", "Cookie", "canary=always"), "stable", n)
		// A header that decides nothing falls through to the cookie...
		expectAll(t, c, host, h("X-Canary", "maybe", "Cookie", "canary=never"), "stable", n)
		// ...and the cookie's never stops the weight.
		expectAll(t, c, host, h("Cookie", "canary=never"), "stable", n)
		// Header always wins over the cookie's never.
		expectAll(t, c, host, h("X-Canary", "always", "Cookie", "canary=never"), "canary", n)
		// Neither decides: weight 100.
		expectAll(t, c, host, h("X-Canary", "maybe", "Cookie", "canary=maybe"), "canary", n)
	})
}
