package health

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"weir.dev/weir/proxy/table"
)

func TestSpecDefaults(t *testing.T) {
	s := SpecFor(table.HealthCheck{Path: "/healthz"}, table.HTTPS)
	assert.Equal(t, Spec{Path: "/healthz", Interval: DefaultInterval, Timeout: DefaultTimeout, Rise: DefaultRise, Fall: DefaultFall, TLS: true}, s)
}

// TestFailingEndpointLeavesAndReturns: an endpoint that starts failing is
// reported unhealthy after Fall failed checks and healthy again after Rise
// good ones. Intervals are short; the waits are generous and only bound the
// test, they are not what it measures.
func TestFailingEndpointLeavesAndReturns(t *testing.T) {
	var failing atomic.Bool
	var checks atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		checks.Add(1)
		if r.URL.Path != "/ready" {
			w.WriteHeader(404)
			return
		}
		if failing.Load() {
			w.WriteHeader(500)
		}
	}))
	defer srv.Close()
	verdicts := make(chan bool, 10)
	spec := Spec{Path: "/ready", Interval: 20 * time.Millisecond, Timeout: time.Second, Rise: 2, Fall: 2}
	c := Start(strings.TrimPrefix(srv.URL, "http://"), spec, func(ok bool) { verdicts <- ok }, zap.NewNop())
	defer c.Stop()

	failing.Store(true)
	start := checks.Load()
	select {
	case ok := <-verdicts:
		require.False(t, ok)
	case <-time.After(10 * time.Second):
		t.Fatal("no unhealthy verdict")
	}
	assert.LessOrEqual(t, checks.Load()-start, int32(3), "taken out after Fall (2) failed checks")

	failing.Store(false)
	start = checks.Load()
	select {
	case ok := <-verdicts:
		require.True(t, ok)
	case <-time.After(10 * time.Second):
		t.Fatal("no healthy verdict")
	}
	assert.LessOrEqual(t, checks.Load()-start, int32(3), "back after Rise (2) good checks")
}

func TestStopEndsTheChecker(t *testing.T) {
	var checks atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { checks.Add(1) }))
	defer srv.Close()
	c := Start(strings.TrimPrefix(srv.URL, "http://"), Spec{Path: "/", Interval: 5 * time.Millisecond, Timeout: time.Second, Rise: 1, Fall: 1}, func(bool) {}, zap.NewNop())
	time.Sleep(50 * time.Millisecond)
	c.Stop()
	// A probe sent just before Stop may still reach the server; after that,
	// nothing.
	time.Sleep(20 * time.Millisecond)
	n := checks.Load()
	time.Sleep(50 * time.Millisecond)
	assert.Equal(t, n, checks.Load(), "no check starts after Stop returned")
}

func TestCheckURL(t *testing.T) {
	assert.Equal(t, "http://10.0.0.1:8080/h", checkURL("10.0.0.1:8080", Spec{Path: "/h"}))
	assert.Equal(t, "https://[fd00::1]:9000/h", checkURL("[fd00::1]:8080", Spec{Path: "/h", Port: 9000, TLS: true}))
}
