package proxy

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOutgoingHeaderMapOwnsItsValues: the header map handed to net/http's
// and x/net's transports (HTTPS, h2c and gRPC endpoints, error pages) holds
// copies of the client's values, whose memory the connection's next request
// reuses while a transport's goroutine may still be writing this map.
func TestOutgoingHeaderMapOwnsItsValues(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "http://a.test/", nil)
	r.Header = http.Header{"Cookie": {"s=1"}, "Accept": {"a", "b"}, "Te": {"trailers"}}
	out := &outgoing{req: r, info: &requestInfo{scheme: "https", port: "443", clientIP: "192.0.2.1", peerIP: "192.0.2.1", requestID: "id"}}
	h := out.headers()
	require.Equal(t, []string{"s=1"}, h["Cookie"])
	require.Equal(t, []string{"a", "b"}, h["Accept"])
	// The next request overwrites the memory the values were parsed into.
	r.Header["Cookie"][0], r.Header["Accept"][0], r.Header["Accept"][1] = "other=2", "x", "y"
	assert.Equal(t, []string{"s=1"}, h["Cookie"])
	assert.Equal(t, []string{"a", "b"}, h["Accept"])
	assert.Nil(t, h["Te"], "a hop-by-hop field is not passed on")
	// Appending to one field's values never writes into another's,
	// whichever of them the map's iteration copied first (random: 20
	// builds each).
	for i := range 40 {
		k := []string{"Cookie", "Accept"}[i%2]
		out.header = nil
		h := out.headers()
		before := maps.Clone(h)
		for f := range before {
			before[f] = slices.Clone(before[f])
		}
		h[k] = append(h[k], "extra")
		for f, vs := range before {
			if f != k {
				assert.Equal(t, vs, h[f], "appending to %s changed %s", k, f)
			}
		}
	}
}

// TestStdRetrySendsItsOwnHeaderMap: a retry through net/http's or x/net's
// transport never writes the header map an earlier attempt sent, which
// that transport's goroutine may still be reading (run with -race; without
// the copy Go may also stop the process on the concurrent map write).
func TestStdRetrySendsItsOwnHeaderMap(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "http://a.test/ws", nil)
	r.Header = http.Header{"Te": {"trailers"}, "Accept": {"*/*"}}
	out := &outgoing{req: r, info: &requestInfo{scheme: "https", port: "443", clientIP: "192.0.2.1", peerIP: "192.0.2.1"},
		method: http.MethodGet, uri: "/ws", host: "a.test", addr: "192.0.2.10:443", upgrade: "websocket"}
	to := &timeouts{connect: time.Second, send: time.Second, read: time.Second}
	stop, reading := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(stop) })
	var sent []http.Header
	first := rtFunc(func(req *http.Request) (*http.Response, error) {
		sent = append(sent, req.Header)
		go func() { // the transport's writer, still at the head
			close(reading)
			for {
				select {
				case <-stop:
					return
				default:
				}
				for k, vs := range req.Header {
					_, _ = k, len(vs)
				}
			}
		}()
		<-reading
		return nil, errors.New("stream reset before the head was written")
	})
	second := rtFunc(func(req *http.Request) (*http.Response, error) {
		sent = append(sent, req.Header)
		return nil, errors.New("refused")
	})
	_, err := roundTripStd(context.Background(), first, "https", out, to)
	require.Error(t, err)
	_, err = roundTripStd(context.Background(), second, "https", out, to)
	require.Error(t, err)
	require.Len(t, sent, 2)
	assert.NotEqual(t, reflect.ValueOf(sent[0]).UnsafePointer(), reflect.ValueOf(sent[1]).UnsafePointer(), "the retry's map is its own")
	for i, h := range sent {
		assert.Equal(t, []string{"Upgrade"}, h["Connection"], "attempt %d", i)
		assert.Equal(t, []string{"websocket"}, h["Upgrade"], "attempt %d", i)
		assert.Equal(t, []string{"trailers"}, h["Te"], "attempt %d", i)
		assert.Equal(t, []string{"*/*"}, h["Accept"], "attempt %d", i)
	}
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
