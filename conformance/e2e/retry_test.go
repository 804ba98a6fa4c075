package e2e

import (
	"context"
	"io"
	"net/http"
	"time"
)

// retryGET retries a GET that failed (or, with a timeout, took too long),
// up to five times: what a client of a replicated service does when the
// replica its new connection reached has just died or hangs. The local load
// balancer, like kube-proxy, picks an endpoint per connection at random, so
// a retry may meet the same replica again until it leaves the EndpointSlice.
type retryGET struct {
	next    http.RoundTripper
	timeout time.Duration // of each attempt; 0: only the request's own
	pace    time.Duration // waited before each request: keeps long tests under the load's request cap
	backoff time.Duration // pause before the first retry, doubled before each next one
}

func (r retryGET) RoundTrip(req *http.Request) (*http.Response, error) {
	time.Sleep(r.pace)
	pause := r.backoff
	for try := 0; ; try++ {
		ctx, cancel := req.Context(), context.CancelFunc(func() {})
		if r.timeout > 0 {
			ctx, cancel = context.WithTimeout(ctx, r.timeout)
		}
		resp, err := r.next.RoundTrip(req.WithContext(ctx))
		if err == nil {
			resp.Body = cancelOnClose{resp.Body, cancel}
			return resp, nil
		}
		cancel()
		if try == 5 || req.Method != http.MethodGet || req.Context().Err() != nil {
			return nil, err
		}
		time.Sleep(pause)
		pause *= 2
	}
}

// cancelOnClose ends an attempt's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	defer c.cancel()
	return c.ReadCloser.Close()
}
