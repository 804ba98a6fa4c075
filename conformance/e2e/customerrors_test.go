package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestCustomErrors: an Ingress with custom-http-errors and default-backend
// whose Service refuses connections (its Pods do not listen on the target
// port) answers with the error backend Pod's page, the original status
// (502, or 503 once the endpoint is ejected) kept, and the error backend
// gets X-Code, X-Format, X-Original-URI, X-Namespace, X-Ingress-Name,
// X-Service-Name, X-Service-Port and X-Request-ID. An Ingress with only
// default-backend whose Service has no endpoints is served by the error
// backend Pod.
func TestCustomErrors(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ns, c := namespace(t, ctx), client()
	for _, name := range []string{"errors", "web"} {
		echoApp(t, ctx, ns, name, 1)
	}
	refused := service(ns, "refused", map[string]string{"app": "web"})
	refused.Spec.Ports[0].TargetPort = intstr.FromInt32(3999)
	createService(t, ctx, refused)
	waitEndpoints(t, ctx, ns, "refused", 1)
	createService(t, ctx, service(ns, "nothing", map[string]string{"app": "nothing"}))

	pages := "pages." + ns + ".test"
	createIngress(t, ctx, ingress(ns, "pages", pages, "refused", map[string]string{
		canaryPrefix + "custom-http-errors": "502, 503", canaryPrefix + "default-backend": "errors"}))
	fallback := "fallback." + ns + ".test"
	createIngress(t, ctx, ingress(ns, "fallback", fallback, "nothing", map[string]string{
		canaryPrefix + "default-backend": "errors"}))

	waitServed(t, c, fallback, nil, "errors")

	var last errorPage
	waitEvery(t, pages, "the error backend's page", func(base string) (echo, bool, error) {
		p, err := fetchErrorPage(c, base, pages)
		last = p
		return echo{Status: p.status, Pod: p.Pod}, err == nil && app(p.Pod) == "errors", err
	})
	if last.status != http.StatusBadGateway && last.status != http.StatusServiceUnavailable {
		t.Errorf("status %d, want the original 502 or 503", last.status)
	}
	want := map[string]string{
		"X-Code": fmt.Sprint(last.status), "X-Format": "application/json", "X-Original-Uri": "/page?a=b",
		"X-Namespace": ns, "X-Ingress-Name": "pages", "X-Service-Name": "refused", "X-Service-Port": "80",
	}
	for k, v := range want {
		if got := first(last.Headers[k]); got != v {
			t.Errorf("the error backend got %s %q, want %q", k, got, v)
		}
	}
	if first(last.Headers["X-Request-Id"]) == "" {
		t.Error("the error backend got no X-Request-ID")
	}
	if last.Method != http.MethodGet || last.Path != "/page?a=b" {
		t.Errorf("the error backend was asked %s %s, want GET /page?a=b", last.Method, last.Path)
	}
}

// errorPage is an echo answer with any status.
type errorPage struct {
	status  int
	Pod     string              `json:"pod"`
	Method  string              `json:"method"`
	Path    string              `json:"path"`
	Headers map[string][]string `json:"headers"`
}

// fetchErrorPage POSTs to host/page?a=b (the page is fetched with GET) and
// decodes whatever JSON comes back.
func fetchErrorPage(c *http.Client, base, host string) (errorPage, error) {
	req, err := http.NewRequest(http.MethodPost, base+"/page?a=b", nil)
	if err != nil {
		return errorPage{}, err
	}
	req.Host = host
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return errorPage{}, err
	}
	defer resp.Body.Close()
	p := errorPage{status: resp.StatusCode}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err == nil && resp.Header.Get("Content-Type") == "application/json" {
		err = json.Unmarshal(body, &p)
	}
	return p, err
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}
