package e2e

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// mirrorDelay is how long the slow mirror takes to answer; a request whose
// copy goes there must end well before (mirrorBound), whatever the load.
const (
	mirrorDelay = 8 * time.Second
	mirrorBound = 4 * time.Second
)

// TestMirror: Ingresses with mirror-target send a copy of each request to
// the mirror (a backend that records what it gets) while the client gets
// the real backend's answer: with the body by default, without it when
// mirror-request-body is off. A mirror that takes 8 s to answer, or that
// refuses connections, neither slows nor fails the real requests.
func TestMirror(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ns, c := namespace(t, ctx), client()
	echoApp(t, ctx, ns, "web", 1)
	mirror := startOrigin(t, nil)
	slow := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(mirrorDelay):
		case <-r.Context().Done():
		}
	})
	targets := map[string]map[string]string{
		"copy":   {"mirror-target": mirror.url()},
		"nobody": {"mirror-target": mirror.url() + "/nobody$request_uri", "mirror-request-body": "off"},
		"slow":   {"mirror-target": slow.url()},
		"down":   {"mirror-target": refusedURL(t)},
	}
	for name, keys := range targets {
		annotations := map[string]string{}
		for k, v := range keys {
			annotations[canaryPrefix+k] = v
		}
		createIngress(t, ctx, ingress(ns, name, name+"."+ns+".test", "web", annotations))
	}
	for name := range targets {
		waitServed(t, c, name+"."+ns+".test", nil, "web")
	}

	post := func(name, path, body string) {
		t.Helper()
		resp, _, err := do(c, env.url, name+"."+ns+".test", http.MethodPost, path, http.Header{"Content-Type": {"text/plain"}}, body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s to %s: %v %v, want the backend's 200", path, name, status(resp), err)
		}
	}
	post("copy", "/copy?n=1", "first copy")
	got := mirrored(t, mirror, "/copy?n=1")
	if got.Method != http.MethodPost || got.Body != "first copy" || got.Host != mirror.addr {
		t.Errorf("the mirror got %s %q for Host %q, want POST %q for %s", got.Method, got.Body, got.Host, "first copy", mirror.addr)
	}
	post("nobody", "/bare", "not for the mirror")
	if got := mirrored(t, mirror, "/nobody/bare"); got.Method != http.MethodPost || got.Body != "" {
		t.Errorf("with mirror-request-body off the mirror got %s %q, want POST without body", got.Method, got.Body)
	}

	for _, name := range []string{"slow", "down"} {
		start := time.Now()
		for i := 0; i < 3; i++ {
			post(name, fmt.Sprintf("/%s/%d", name, i), "payload")
		}
		if took := time.Since(start); took >= mirrorBound {
			t.Errorf("3 requests mirrored to the %s mirror took %v, want well under the slow mirror's %v", name, took, mirrorDelay)
		}
	}
	mirrored(t, slow, "/slow/2") // the copies did go there
}

// mirrored waits for the mirror's copy of a request to path.
func mirrored(t *testing.T, mirror *origin, path string) seen {
	t.Helper()
	within(t, 30*time.Second, "mirrored "+path, func() (bool, string) {
		return len(mirror.requests(path)) > 0, fmt.Sprintf("%d requests at the mirror", len(mirror.requests("")))
	})
	return mirror.requests(path)[0]
}
