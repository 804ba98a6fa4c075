package proxy

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/proxy/table"
)

// gate is a mirror backend that records what it got and holds every copy
// until released (or the copy gives up), counting copies at once.
type gate struct {
	mu       sync.Mutex
	seen     []string
	now, max atomic.Int32
	release  chan struct{}
}

func newGate(t *testing.T) (*gate, *httptest.Server) {
	g := &gate{release: make(chan struct{})}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := g.now.Add(1)
		defer g.now.Add(-1)
		for m := g.max.Load(); n > m && !g.max.CompareAndSwap(m, n); m = g.max.Load() {
		}
		b := make([]byte, 64)
		k, _ := r.Body.Read(b)
		g.mu.Lock()
		g.seen = append(g.seen, r.Method+" "+r.Host+" "+r.URL.RequestURI()+" body="+string(b[:k]))
		g.mu.Unlock()
		select {
		case <-g.release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(g.release) })
	return g, s
}

func (g *gate) requests() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.seen...)
}

func TestMirrorTargetGetsTheCopyItAsksFor(t *testing.T) {
	h := newHarness(t, Options{})
	g, srv := newGate(t)
	rt := routeTo("m.test", "/", backendOf("web", named(t, "web")))
	rt.Action.Mirrors = []table.Mirror{
		{Backend: backendOf("copy", srv), Target: &table.MirrorTarget{URI: "/copy$request_uri", Host: "mirror.example"}},
		{Backend: backendOf("copy", srv), Target: &table.MirrorTarget{Host: "nobody.example", NoBody: true}},
	}
	h.publish(rt)
	req := httptest.NewRequest("POST", "http://m.test/a/b?x=1", strings.NewReader("hello"))
	req.RequestURI = ""
	resp, body := h.do(req)
	require.Equal(t, 200, resp.StatusCode, "answered while both copies are held")
	assert.True(t, strings.HasPrefix(body, "web POST /a/b?x=1"), body)
	require.Eventually(t, func() bool { return len(g.requests()) == 2 }, 10*time.Second, 5*time.Millisecond)
	assert.ElementsMatch(t, []string{
		"POST mirror.example /copy/a/b?x=1 body=hello",
		"POST nobody.example /a/b?x=1 body=",
	}, g.requests())
}

func TestMirrorTargetsNeverHoldOrFailTheRequest(t *testing.T) {
	h := newHarness(t, Options{})
	g, slow := newGate(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadBackend := backendOf("dead", dead)
	dead.Close()
	rt := routeTo("m.test", "/", backendOf("web", named(t, "web")))
	rt.Action.Mirrors = []table.Mirror{
		{Backend: backendOf("slow", slow), Target: &table.MirrorTarget{Host: "slow.example"}},
		{Backend: deadBackend, Target: &table.MirrorTarget{Host: "dead.example"}},
	}
	h.publish(rt)
	const requests = maxMirrorsInFlight + 50
	for i := 0; i < requests; i++ {
		code, body := h.get("m.test", "/")
		require.Equal(t, 200, code, "request %d", i)
		require.True(t, strings.HasPrefix(body, "web GET /"), body)
	}
	require.Eventually(t, func() bool { return g.now.Load() > 0 }, 10*time.Second, 5*time.Millisecond)
	assert.LessOrEqual(t, int(g.max.Load()), maxMirrorsInFlight, "copies in flight stay bounded; the rest are skipped")
}
