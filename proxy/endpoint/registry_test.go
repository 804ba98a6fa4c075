package endpoint

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/proxy/table"
)

func tableWith(t *testing.T, backends ...*table.Backend) *table.Table {
	t.Helper()
	var routes []*table.Route
	for i, b := range backends {
		routes = append(routes, &table.Route{Host: "h" + string(rune('a'+i)), Path: table.PathMatch{Value: "/"}, Action: &table.Action{Split: table.Split{Main: b}}})
	}
	tb, err := table.New(1, routes, nil)
	require.NoError(t, err)
	return tb
}

func TestStateSurvivesTableSwaps(t *testing.T) {
	r := NewRegistry(Options{})
	defer r.Close()
	b1 := &table.Backend{Name: "a", Endpoints: []table.Endpoint{{Address: "10.0.0.1:80"}, {Address: "10.0.0.2:80"}}}
	pools := r.Publish(tableWith(t, b1))
	ep := pools.At(0).Endpoints()[0]
	ep.Begin()

	b2 := &table.Backend{Name: "a", Endpoints: []table.Endpoint{{Address: "10.0.0.1:80"}, {Address: "10.0.0.3:80"}}}
	pools = r.Publish(tableWith(t, b2))
	assert.Same(t, ep, pools.At(0).Endpoints()[0], "same identity, same state")
	assert.Equal(t, int64(1), pools.At(0).Endpoints()[0].InFlight())

	addrs := []string{}
	for _, s := range r.Snapshot() {
		addrs = append(addrs, s.Address)
	}
	assert.Equal(t, []string{"10.0.0.1:80", "10.0.0.3:80"}, addrs, "10.0.0.2 was swept")
}

func TestProtocolIsPartOfIdentity(t *testing.T) {
	r := NewRegistry(Options{})
	defer r.Close()
	a := &table.Backend{Name: "a", Endpoints: []table.Endpoint{{Address: "10.0.0.1:80"}}}
	b := &table.Backend{Name: "b", Protocol: table.H2C, Endpoints: []table.Endpoint{{Address: "10.0.0.1:80"}}}
	pools := r.Publish(tableWith(t, a, b))
	assert.NotSame(t, pools.At(0).Endpoints()[0], pools.At(1).Endpoints()[0])
}

func TestChecksStartAndStopWithTables(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		w.WriteHeader(503)
	}))
	defer srv.Close()
	changes := make(chan bool, 4)
	r := NewRegistry(Options{OnHealthChange: func(_ string, ok bool) { changes <- ok }})
	defer r.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	checked := &table.Backend{Name: "a", Endpoints: []table.Endpoint{{Address: addr}},
		Health: table.HealthCheck{Path: "/hz", Interval: 10 * time.Millisecond, Fall: 1, Rise: 1}}
	pools := r.Publish(tableWith(t, checked))
	select {
	case ok := <-changes:
		assert.False(t, ok)
	case <-time.After(10 * time.Second):
		t.Fatal("the check never reported")
	}
	assert.False(t, pools.At(0).Endpoints()[0].Available())
	assert.True(t, pools.At(0).Panicking())

	r.Publish(tableWith(t)) // the endpoint leaves every table
	assert.Empty(t, r.Snapshot())
	mu.Lock()
	n := hits["/hz"]
	mu.Unlock()
	time.Sleep(50 * time.Millisecond) // five intervals
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, n, hits["/hz"], "Publish stopped the checker before returning")
}

func TestRemovedEndpointsAreUnavailableToOlderTables(t *testing.T) {
	r := NewRegistry(Options{})
	defer r.Close()
	old := r.Publish(tableWith(t, &table.Backend{Name: "a", Endpoints: []table.Endpoint{{Address: "10.0.0.1:80"}, {Address: "10.0.0.2:80"}}}))
	r.Publish(tableWith(t, &table.Backend{Name: "a", Endpoints: []table.Endpoint{{Address: "10.0.0.1:80"}}}))
	gone := old.At(0).Endpoints()[1]
	assert.Equal(t, "10.0.0.2:80", gone.Address())
	assert.False(t, gone.Available(), "a request on the old table does not retry on a removed endpoint")
	for i := 0; i < 20; i++ {
		assert.Equal(t, "10.0.0.1:80", old.At(0).Pick(nil, "", nil).Address())
	}
}

func TestPublishChangedEqualsPublish(t *testing.T) {
	r := NewRegistry(Options{})
	defer r.Close()
	a := &table.Backend{Name: "a", Endpoints: []table.Endpoint{{Address: "10.0.0.1:80"}, {Address: "10.0.0.2:80"}}}
	b := &table.Backend{Name: "b", Endpoints: []table.Endpoint{{Address: "10.0.0.2:80"}}}
	tb := tableWith(t, a, b)
	pools := r.Publish(tb)
	kept := pools.At(a.Index()).Endpoints()[0]
	shared := pools.At(a.Index()).Endpoints()[1]

	// a loses 10.0.0.2 (still used by b) and gains 10.0.0.3.
	next := tb.WithEndpoints(2, map[int][]table.Endpoint{a.Index(): {{Address: "10.0.0.1:80"}, {Address: "10.0.0.3:80"}}})
	np := r.PublishChanged(next, pools, []int{a.Index()})
	assert.Same(t, kept, np.At(a.Index()).Endpoints()[0], "state carries over")
	assert.Equal(t, "10.0.0.3:80", np.At(a.Index()).Endpoints()[1].Address())
	assert.Same(t, pools.At(b.Index()), np.At(b.Index()), "unchanged pools are reused")
	assert.True(t, shared.Available(), "still used by b")

	// b loses 10.0.0.2 too: now nobody uses it.
	last := next.WithEndpoints(3, map[int][]table.Endpoint{b.Index(): {{Address: "10.0.0.3:80"}}})
	r.PublishChanged(last, np, []int{b.Index()})
	assert.False(t, shared.Available(), "removed once no backend uses it")
	var addrs []string
	for _, s := range r.Snapshot() {
		addrs = append(addrs, s.Address)
	}
	assert.Equal(t, []string{"10.0.0.1:80", "10.0.0.3:80"}, addrs)
}

// A table that table.WithHosts derived adds and removes backends: the new
// one gets its pool (and its active check, on an endpoint already in use
// unchecked), the removed one's endpoints go once nothing uses them.
func TestPublishChangedAddsAndRemovesBackends(t *testing.T) {
	checks := make(chan string, 4)
	r := NewRegistry(Options{OnChecked: func(addr string) { checks <- addr }})
	defer r.Close()
	a := &table.Backend{Name: "a", Endpoints: []table.Endpoint{{Address: "127.0.0.1:1"}}}
	b := &table.Backend{Name: "b", Endpoints: []table.Endpoint{{Address: "10.0.0.2:80"}}}
	tb := tableWith(t, a, b)
	pools := r.Publish(tb)
	gone := pools.At(b.Index()).Endpoints()[0]

	c := &table.Backend{Name: "c", Endpoints: []table.Endpoint{{Address: "127.0.0.1:1"}},
		Health: table.HealthCheck{Path: "/hz", Interval: time.Hour, Fall: 1, Rise: 1}}
	next, err := tb.WithHosts(2, []string{"hb"}, []*table.Route{{Host: "hb",
		Path: table.PathMatch{Type: table.PathPrefix, Value: "/"}, Action: &table.Action{Split: table.Split{Main: c}}}})
	require.NoError(t, err)
	np := r.PublishChanged(next, pools, next.Changes().Backends)
	require.Equal(t, next.NumBackends(), np.Len())
	assert.Nil(t, np.At(b.Index()))
	assert.Same(t, c, np.At(c.Index()).Backend())
	assert.Same(t, pools.At(a.Index()).Endpoints()[0], np.At(c.Index()).Endpoints()[0], "one endpoint, shared")
	assert.Same(t, pools.At(a.Index()), np.At(a.Index()), "unchanged pools are reused")
	assert.False(t, gone.Available(), "b's endpoint is used by no backend any more")
	select {
	case addr := <-checks:
		assert.Equal(t, "127.0.0.1:1", addr)
	case <-time.After(10 * time.Second):
		t.Fatal("the new backend's check never started")
	}
}
