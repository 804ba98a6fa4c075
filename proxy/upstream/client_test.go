package upstream

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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
