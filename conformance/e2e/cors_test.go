package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestCORS: an Ingress with enable-cors and an origin list holding an exact
// origin and a "*." wildcard answers a preflight from a listed origin
// itself (204 with the Access-Control-* headers; the backend, which records
// every request, never sees it), adds the headers to the backend's answer
// to a simple request, and adds none for an origin the list does not hold
// (whose preflight goes to the backend, as in ingress-nginx).
func TestCORS(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ns, c := namespace(t, ctx), client()
	api := startOrigin(t, nil)
	api.service(t, ctx, ns, "api")
	host := "api." + ns + ".test"
	createIngress(t, ctx, ingress(ns, "api", host, "api", map[string]string{
		canaryPrefix + "enable-cors":        "true",
		canaryPrefix + "cors-allow-origin":  "https://app.example.com, https://*.example.org",
		canaryPrefix + "cors-allow-methods": "GET, PUT",
		canaryPrefix + "cors-max-age":       "600",
	}))
	preflight := func(origin string) http.Header {
		return http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"PUT"}}
	}
	n := 0
	waitEvery(t, host, "a preflight answered 204", func(base string) (echo, bool, error) {
		n++
		resp, _, err := do(c, base, host, http.MethodOptions, fmt.Sprintf("/settle/%d", n), preflight("https://shop.example.org"), "")
		if err != nil {
			return echo{}, false, err
		}
		return echo{Status: resp.StatusCode}, resp.StatusCode == http.StatusNoContent, nil
	})

	for i, base := range everyWeir() {
		path := fmt.Sprintf("/preflight/%d", i)
		resp, _, err := do(c, base, host, http.MethodOptions, path, preflight("https://shop.example.org"), "")
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("via %s: preflight from a wildcard origin: %v %v, want 204", base, status(resp), err)
		}
		want := map[string]string{"Access-Control-Allow-Origin": "https://shop.example.org",
			"Access-Control-Allow-Methods": "GET, PUT", "Access-Control-Max-Age": "600", "Vary": "Origin"}
		for k, v := range want {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("via %s: preflight %s = %q, want %q", base, k, got, v)
			}
		}
	}
	if got := api.requests(""); len(got) != 0 {
		t.Errorf("the backend got %d requests answered by Weir's preflight, first %s %s", len(got), got[0].Method, got[0].Path)
	}

	for _, origin := range []string{"https://app.example.com", "https://shop.example.org"} {
		resp, body, err := do(c, env.url, host, http.MethodGet, "/simple", http.Header{"Origin": {origin}}, "")
		if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"origin"`) {
			t.Fatalf("simple GET from %s: %v %v %q, want the backend's 200", origin, status(resp), err, body)
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != origin {
			t.Errorf("simple GET from %s: Access-Control-Allow-Origin %q, want the origin", origin, got)
		}
	}

	// Not listed: a second-level subdomain ("*." is one label), the bare
	// domain, another scheme, another site.
	for i, origin := range []string{"https://a.b.example.org", "https://example.org", "http://app.example.com", "https://example.net"} {
		resp, _, err := do(c, env.url, host, http.MethodGet, "/simple", http.Header{"Origin": {origin}}, "")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("simple GET from %s: %v %v, want the backend's 200", origin, status(resp), err)
		}
		path := fmt.Sprintf("/refused/%d", i)
		pre, _, err := do(c, env.url, host, http.MethodOptions, path, preflight(origin), "")
		if err != nil || pre.StatusCode != http.StatusOK || len(api.requests(path)) != 1 {
			t.Fatalf("preflight from %s: %v %v with %d requests at the backend, want the backend's answer", origin, status(pre), err, len(api.requests(path)))
		}
		for _, r := range []*http.Response{resp, pre} {
			for k := range r.Header {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Errorf("%s from %s: got %s %q, want no CORS headers", r.Request.Method, origin, k, r.Header.Get(k))
				}
			}
		}
	}
}

// status is a response's status line for messages ("no response" for nil).
func status(resp *http.Response) string {
	if resp == nil {
		return "no response"
	}
	return resp.Status
}
