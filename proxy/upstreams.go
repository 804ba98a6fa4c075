package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/net/http2"

	"weir.dev/weir/proxy/table"
	"weir.dev/weir/proxy/upstream"
)

// upstreams holds one transport per upstream protocol.
type upstreams struct {
	h1    h1Client         // HTTP/1.1 in clear text (proxy/upstream)
	https *http.Transport  // TLS, HTTP/2 when the endpoint offers it, else HTTP/1.1
	h2c   *http2.Transport // HTTP/2 with prior knowledge (h2c, gRPC)
	h2tls *http2.Transport // HTTP/2 over TLS (gRPC over TLS)
	// custom holds the transports of backends with proxy-ssl-* settings.
	custom backendTLS
}

// h1Client is what the proxy needs of its HTTP/1.1 client.
type h1Client interface {
	RoundTrip(ctx context.Context, req *upstream.Request, to upstream.Timeouts) (*http.Response, error)
	CloseAddr(addr string)          // an endpoint left: close its idle connections
	CloseIdle(keep map[string]bool) // close those to every address not in keep (all: nil)
}

func newUpstreams(opts Options) *upstreams {
	dialer := net.Dialer{KeepAlive: 30 * time.Second}
	tlsConf := opts.UpstreamTLS.Clone()
	tlsConf.NextProtos = []string{"h2", "http/1.1"}
	h2tlsConf := opts.UpstreamTLS.Clone()
	h2tlsConf.NextProtos = []string{"h2"}
	u := &upstreams{
		h1: upstream.New(upstream.Options{MaxIdle: opts.MaxIdlePerEndpoint, IdleTimeout: opts.UpstreamIdleTimeout,
			MaxRequests: opts.UpstreamKeepaliveRequests, Dial: dialer.DialContext}),
		https: &http.Transport{
			DialContext:         dialer.DialContext,
			TLSClientConfig:     tlsConf,
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: opts.MaxIdlePerEndpoint,
			IdleConnTimeout:     opts.UpstreamIdleTimeout,
			DisableCompression:  true,
			TLSHandshakeTimeout: 10 * time.Second,
		},
		h2c: &http2.Transport{
			AllowHTTP: true,
			DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
				return dialer.DialContext(ctx, network, addr)
			},
			IdleConnTimeout:  opts.UpstreamIdleTimeout,
			ReadIdleTimeout:  30 * time.Second,
			PingTimeout:      10 * time.Second,
			WriteByteTimeout: 30 * time.Second,
		},
		h2tls: &http2.Transport{
			TLSClientConfig: h2tlsConf,
			IdleConnTimeout: opts.UpstreamIdleTimeout,
			ReadIdleTimeout: 30 * time.Second,
			PingTimeout:     10 * time.Second,
		},
	}
	u.custom.u = u
	return u
}

// roundTrip sends out over the transport for protocol p.
func (u *upstreams) roundTrip(ctx context.Context, p table.Protocol, out *outgoing, to *timeouts) (*http.Response, error) {
	switch p {
	case table.HTTPS:
		return roundTripStd(ctx, u.https, "https", out, to)
	case table.H2C, table.GRPC:
		return roundTripStd(ctx, u.h2c, "http", out, to)
	case table.GRPCS:
		return roundTripStd(ctx, u.h2tls, "https", out, to)
	default:
		return u.roundTripH1(ctx, out, to)
	}
}

// roundTripH1 sends out over the HTTP/1.1 client. Its request lives in
// out, and out writes its own header fields: no allocation.
func (u *upstreams) roundTripH1(ctx context.Context, out *outgoing, to *timeouts) (*http.Response, error) {
	// Zeroed, then filled: a composite literal would be built on the stack
	// and copied (see fillOutgoing).
	req := &out.h1
	*req = upstream.Request{}
	req.Addr, req.Method, req.URI, req.Host, req.Fields = out.addr, out.method, out.uri, out.host, out
	req.Body, req.ContentLength, req.Upgrade, req.Gone = out.body, out.contentLength, out.upgrade, out.gone
	if !out.roomTaken {
		req.Room, out.roomTaken = &out.room, true
	}
	resp, err := u.h1.RoundTrip(ctx, req, upstream.Timeouts{Connect: to.connect, Send: to.send, Read: to.read})
	out.dialed = req.Dialed
	if err != nil && ctx.Err() != nil {
		return nil, clientGone(err)
	}
	return resp, err
}

// clientGone wraps err, the failure of an exchange whose client left.
//
//go:noinline
func clientGone(err error) error { return fmt.Errorf("%w: %w", errClientGone, err) }

// roundTripStd sends a request through a standard library or x/net
// transport (HTTP/2, and HTTPS). The connect and response-header timeouts
// cancel the request only while no response has arrived, so long gRPC
// streams are not cut.
func roundTripStd(ctx context.Context, t http.RoundTripper, scheme string, out *outgoing, to *timeouts) (*http.Response, error) {
	u, err := url.ParseRequestURI(out.uri)
	if err != nil {
		return nil, fmt.Errorf("request URI %q: %w", out.uri, err)
	}
	u.Scheme, u.Host = scheme, out.addr
	// A retry sends a copy of the map: the transport's goroutines may still
	// be reading the one an earlier attempt sent (an attempt cancelled before
	// its head was written, an endpoint that answered before reading it), and
	// a map written while another goroutine iterates it stops the process.
	h := out.headers()
	if out.sentStd {
		h = maps.Clone(h)
	}
	out.sentStd = true
	if out.upgrade != "" {
		h["Connection"] = []string{"Upgrade"}
		h["Upgrade"] = []string{out.upgrade}
	}
	if te := out.req.Header["Te"]; len(te) == 1 && te[0] == "trailers" {
		h["Te"] = teTrailers // gRPC servers want it; HTTP/2 allows only this value
	}
	ctx, cancel := context.WithCancel(ctx)
	req := (&http.Request{
		Method:        out.method,
		URL:           u,
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        h,
		Host:          out.host,
		ContentLength: out.contentLength,
	}).WithContext(ctx)
	// The connect and read timeouts run from the last progress of the
	// upload, if any, so a slow but steady one is not cut.
	timer := newStallTimer(to.connect+to.read, cancel)
	if out.body != nil {
		req.Body = readCloser{out.body}
		req.Trailer = out.req.Trailer
		out.cb.stall.Store(timer)
	}
	resp, err := t.RoundTrip(req)
	if !timer.stop() && err != nil {
		cancel()
		return nil, fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
	}
	if err != nil {
		cancel()
		if isConnectFailure(err) {
			return nil, &upstream.DialError{Err: err}
		}
		return nil, err
	}
	if rwc, ok := resp.Body.(io.ReadWriteCloser); ok && resp.StatusCode == http.StatusSwitchingProtocols {
		resp.Body = cancelConn{rwc, cancel}
		return resp, nil
	}
	resp.Body = cancelBody{resp.Body, cancel}
	return resp, nil
}

// teTrailers is the one Te value HTTP/2 allows. Shared by every request's
// map: transports only read it, and nothing in Weir appends to it.
var teTrailers = []string{"trailers"}

// cancelConn is an upgraded connection that releases its request context
// when closed.
type cancelConn struct {
	io.ReadWriteCloser
	cancel context.CancelFunc
}

func (c cancelConn) Close() error { err := c.ReadWriteCloser.Close(); c.cancel(); return err }

type readCloser struct {
	r interface{ Read([]byte) (int, error) }
}

func (r readCloser) Read(p []byte) (int, error) { return r.r.Read(p) }
func (readCloser) Close() error                 { return nil }

type cancelBody struct {
	body interface {
		Read([]byte) (int, error)
		Close() error
	}
	cancel context.CancelFunc
}

func (c cancelBody) Read(p []byte) (int, error) { return c.body.Read(p) }
func (c cancelBody) Close() error               { err := c.body.Close(); c.cancel(); return err }

func isConnectFailure(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// forgetAddr closes idle HTTP/1.1 connections to one endpoint that left.
func (u *upstreams) forgetAddr(addr string) { u.h1.CloseAddr(addr) }

// forget closes idle HTTP/1.1 connections to endpoints no longer in t.
func (u *upstreams) forget(t *table.Table) {
	keep := make(map[string]bool)
	for _, b := range t.Backends() {
		if b == nil {
			continue // removed (table.WithHosts)
		}
		for _, e := range t.Endpoints(b) {
			keep[e.Address] = true
		}
	}
	u.h1.CloseIdle(keep)
}

func (u *upstreams) closeAll() {
	u.h1.CloseIdle(nil)
	u.https.CloseIdleConnections()
	u.h2c.CloseIdleConnections()
	u.h2tls.CloseIdleConnections()
	u.custom.closeAll()
}
