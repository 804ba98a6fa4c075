package upstream

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// connCounter is an endpoint that answers with the address of the
// connection each request came on, and counts requests per connection.
type connCounter struct {
	mu    sync.Mutex
	order []string // connection of each request
}

func (c *connCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.order = append(c.order, r.RemoteAddr)
	c.mu.Unlock()
	io.WriteString(w, "ok")
}

// perConn returns how many requests each connection carried, in the order
// the connections were first used.
func (c *connCounter) perConn() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var counts []int
	idx := map[string]int{}
	for _, a := range c.order {
		i, ok := idx[a]
		if !ok {
			i = len(counts)
			idx[a] = i
			counts = append(counts, 0)
		}
		counts[i]++
	}
	return counts
}

func get(t *testing.T, c *Client, addr string) {
	t.Helper()
	req := &Request{Addr: addr, Method: http.MethodGet, URI: "/", Host: "a.test"}
	resp, err := c.RoundTrip(context.Background(), req, Timeouts{Connect: 10 * time.Second, Read: 10 * time.Second})
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "ok", string(b))
}

func TestKeepaliveRequestsLimitClosesAConnectionAfterItsShare(t *testing.T) {
	cc := &connCounter{}
	be := httptest.NewServer(cc)
	defer be.Close()
	addr := strings.TrimPrefix(be.URL, "http://")
	c := New(Options{MaxRequests: 3})
	defer c.CloseIdle(nil)
	for i := 0; i < 7; i++ {
		get(t, c, addr)
	}
	assert.Equal(t, []int{3, 3, 1}, cc.perConn(), "requests per endpoint connection")
}

func TestKeepaliveRequestsDefaultAndUnlimited(t *testing.T) {
	assert.Equal(t, 10000, New(Options{}).opts.MaxRequests, "ingress-nginx's upstream-keepalive-requests default")
	assert.Equal(t, 320, New(Options{}).opts.MaxIdle, "ingress-nginx's upstream-keepalive-connections default")
	cc := &connCounter{}
	be := httptest.NewServer(cc)
	defer be.Close()
	c := New(Options{MaxRequests: -1})
	defer c.CloseIdle(nil)
	for i := 0; i < 20; i++ {
		get(t, c, strings.TrimPrefix(be.URL, "http://"))
	}
	assert.Equal(t, []int{20}, cc.perConn(), "one connection carries every request")
}

// hookCtx is a context with a Hook slot, as Weir's HTTP/1.x server's.
type hookCtx struct {
	context.Context
	mu   sync.Mutex
	hook func()
	set  int
}

func (h *hookCtx) SetHook(f func()) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hook = f
	h.set++
	return true
}

func (h *hookCtx) ClearHook() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	had := h.hook != nil
	h.hook = nil
	return had
}

func (h *hookCtx) fire() {
	h.mu.Lock()
	f := h.hook
	h.hook = nil
	h.mu.Unlock()
	if f != nil {
		f()
	}
}

func TestHookContextInterruptsTheExchange(t *testing.T) {
	arrived := make(chan struct{})
	release := make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release // never answers while the test runs
	}))
	defer be.Close()
	defer close(release) // before be.Close, which waits for the handler
	c := New(Options{})
	defer c.CloseIdle(nil)
	ctx := &hookCtx{Context: context.Background()}
	done := make(chan error, 1)
	go func() {
		req := &Request{Addr: strings.TrimPrefix(be.URL, "http://"), Method: http.MethodGet, URI: "/", Host: "a.test"}
		_, err := c.RoundTrip(ctx, req, Timeouts{Connect: 10 * time.Second, Read: time.Minute})
		done <- err
	}()
	<-arrived
	ctx.fire() // the client left
	select {
	case err := <-done:
		assert.Error(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("the exchange outlived its request")
	}
	assert.Equal(t, 1, ctx.set, "the hook was used, not context.AfterFunc")
}

// connWatch is an endpoint that counts the connections it has open and
// the requests it holds, and holds each request until the channel in hold
// is closed, when there is one.
type connWatch struct {
	open, held atomic.Int64
	hold       atomic.Pointer[chan struct{}]
}

func (w *connWatch) start(t *testing.T) (addr string, dials *atomic.Int64, c func(Options) *Client) {
	be := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if h := w.hold.Load(); h != nil {
			w.held.Add(1)
			<-*h
		}
		io.WriteString(rw, "ok")
	}))
	be.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			w.open.Add(1)
		case http.StateClosed, http.StateHijacked:
			w.open.Add(-1)
		}
	}
	be.Start()
	t.Cleanup(be.Close)
	dials = &atomic.Int64{}
	return strings.TrimPrefix(be.URL, "http://"), dials, func(o Options) *Client {
		d := &net.Dialer{}
		o.Dial = func(ctx context.Context, network, a string) (net.Conn, error) {
			dials.Add(1)
			return d.DialContext(ctx, network, a)
		}
		cl := New(o)
		t.Cleanup(func() { cl.CloseIdle(nil) })
		return cl
	}
}

// burst sends n requests at once and waits until all have their answers;
// the endpoint holds them until all n are in its hands, so that n
// connections are in use at the same time.
func burst(t *testing.T, w *connWatch, c *Client, addr string, n int) {
	t.Helper()
	h := make(chan struct{})
	w.held.Store(0)
	w.hold.Store(&h)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			get(t, c, addr)
		}()
	}
	require.Eventually(t, func() bool { return w.held.Load() == int64(n) }, 20*time.Second, time.Millisecond)
	w.hold.Store(nil)
	close(h)
	wg.Wait()
}

func TestConnectionsOverTheIdleLimitAreReused(t *testing.T) {
	w := &connWatch{}
	addr, dials, newClient := w.start(t)
	c := newClient(Options{MaxIdle: 2, OverLimitIdle: time.Hour})
	burst(t, w, c, addr, 6)
	require.EqualValues(t, 6, dials.Load())
	// A second burst finds the six connections idle and dials none
	// (closing four at once, as a strict bound would, makes every swing of
	// the load dial them again).
	burst(t, w, c, addr, 6)
	assert.EqualValues(t, 6, dials.Load(), "connections dialed for the second burst")
	assert.EqualValues(t, 6, w.open.Load(), "connections the endpoint has open")
}

func TestConnectionsOverTheIdleLimitAreClosedOnceIdle(t *testing.T) {
	w := &connWatch{}
	addr, dials, newClient := w.start(t)
	c := newClient(Options{MaxIdle: 2, OverLimitIdle: 100 * time.Millisecond})
	burst(t, w, c, addr, 6)
	// Left idle, the four over the limit are closed, the two kept stay.
	require.Eventually(t, func() bool { return w.open.Load() == 2 }, 20*time.Second, 5*time.Millisecond,
		"connections the endpoint has open, idle over the limit")
	time.Sleep(200 * time.Millisecond)
	assert.EqualValues(t, 2, w.open.Load(), "the limit's two are kept")
	get(t, c, addr)
	assert.EqualValues(t, 6, dials.Load(), "a kept connection is reused")
}

func TestIdleTimeoutClosesConnectionsWithoutFurtherRequests(t *testing.T) {
	w := &connWatch{}
	addr, dials, newClient := w.start(t)
	c := newClient(Options{IdleTimeout: 200 * time.Millisecond})
	burst(t, w, c, addr, 3)
	require.EqualValues(t, 3, dials.Load())
	// No request comes after: the sweep closes them, and the endpoint is
	// not left holding connections that nothing would ever reuse.
	require.Eventually(t, func() bool { return w.open.Load() == 0 }, 20*time.Second, 5*time.Millisecond,
		"connections the endpoint has open after the idle timeout")
	get(t, c, addr)
	assert.EqualValues(t, 4, dials.Load(), "a request after the timeout dials")
}

// A request that ends after its endpoint left (CloseAddr, on a table
// without it) closes its connection instead of keeping it in a pool that
// nothing will use.
func TestConnectionReturnedAfterTheEndpointLeftIsClosed(t *testing.T) {
	w := &connWatch{}
	addr, _, newClient := w.start(t)
	c := newClient(Options{})
	req := &Request{Addr: addr, Method: http.MethodGet, URI: "/", Host: "a.test"}
	resp, err := c.RoundTrip(context.Background(), req, Timeouts{Connect: 10 * time.Second, Read: 10 * time.Second})
	require.NoError(t, err)
	c.CloseAddr(addr) // the endpoint leaves while the answer is read
	_, err = io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return w.open.Load() == 0 }, 20*time.Second, 5*time.Millisecond,
		"connections the endpoint has open")
	_, kept := c.pools.Load(addr)
	assert.False(t, kept, "no pool is made again for the endpoint that left")
}
