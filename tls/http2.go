package tls

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/net/http2"
)

// HTTP/2 defaults. MaxConcurrentStreams is ingress-nginx's
// http2_max_concurrent_streams; the idle timeout is its keepalive_timeout,
// which nginx also applies to idle HTTP/2 connections.
const (
	DefaultMaxConcurrentStreams = 128
	DefaultHTTP2IdleTimeout     = 75 * time.Second
)

// HTTP2Options tune the HTTP/2 server. The zero value gives the defaults.
type HTTP2Options struct {
	// MaxConcurrentStreams is SETTINGS_MAX_CONCURRENT_STREAMS, and also the
	// number of handlers that may run at once on one connection (see
	// below). Default DefaultMaxConcurrentStreams (128).
	MaxConcurrentStreams uint32

	// MaxReadFrameSize is the largest frame accepted. Default 0: x/net's
	// default (1 MiB); values outside 16 KiB..16 MiB also mean the default.
	MaxReadFrameSize uint32

	// IdleTimeout closes a connection with GOAWAY after this long without
	// an open stream. Default DefaultHTTP2IdleTimeout (75 s); negative means
	// none.
	IdleTimeout time.Duration

	// ReadIdleTimeout sends a PING after this long without a frame, and
	// PingTimeout drops the connection if it is not answered. Defaults: no
	// health-check pings; 15 s.
	ReadIdleTimeout time.Duration
	PingTimeout     time.Duration

	// WriteByteTimeout drops a connection that accepts no bytes for this
	// long while we have data for it. Default none.
	WriteByteTimeout time.Duration

	// CountError, if set, is called for every protocol error the server
	// counts, with a reason "<conn|stream>_<HTTP/2 error code>_<cause>",
	// such as "conn_ENHANCE_YOUR_CALM_too_many_early_resets" for a rapid
	// reset client that was dropped; wire it to a metric. It must not block.
	CountError func(reason string)
}

// HTTP2Server returns the HTTP/2 server settings for Weir's HTTPS listeners.
// The maximum header list size is not set here: x/net derives it from
// http.Server.MaxHeaderBytes (default 1 MB) plus 320 bytes, which
// proxy.NewHTTPServer sets so that the list size is exactly Weir's
// --max-header-bytes (see headerLimit in proxy/listen.go).
//
// Rapid reset (CVE-2023-44487): a client opens a stream and cancels it with
// RST_STREAM at once, in a loop, so the server starts handler after handler
// while the stream limit never trips (a reset stream no longer counts as
// open). Since x/net v0.17.0 the server counts running handlers per
// connection and never runs more than MaxConcurrentStreams at once: a handler
// whose stream was reset keeps its slot until it returns, further streams
// are queued, queued streams that were reset are dropped without running,
// and when the queue exceeds 4 x MaxConcurrentStreams the connection is
// closed with GOAWAY ENHANCE_YOUR_CALM (CountError hears
// "conn_ENHANCE_YOUR_CALM_too_many_early_resets").
// The module pins x/net v0.62.0, which has this (serverConn.scheduleHandler
// in http2/server.go); net/http's bundled HTTP/2 server has the same code
// since Go 1.21.3. The bound only works if handlers return soon after their
// request context is cancelled, which the proxy's handler must ensure.
// TestRapidResetDoesNotStarveOthers checks the bound on this build.
func HTTP2Server(opts HTTP2Options) *http2.Server {
	streams := opts.MaxConcurrentStreams
	if streams == 0 {
		streams = DefaultMaxConcurrentStreams
	}
	idle := opts.IdleTimeout
	switch {
	case idle == 0:
		idle = DefaultHTTP2IdleTimeout
	case idle < 0:
		idle = 0
	}
	// x/net marks these fields deprecated in favour of http.Server.HTTP2
	// (Go 1.24+), but they are still honoured and are what this package's
	// brief asks for; ConfigureServer leaves http.Server.HTTP2 alone so
	// there is a single source of truth.
	return &http2.Server{
		MaxConcurrentStreams: streams,
		MaxReadFrameSize:     opts.MaxReadFrameSize,
		IdleTimeout:          idle,
		ReadIdleTimeout:      opts.ReadIdleTimeout,
		PingTimeout:          opts.PingTimeout,
		WriteByteTimeout:     opts.WriteByteTimeout,
		CountError:           opts.CountError,
	}
}

// ConfigureServer makes srv serve HTTP/2 over TLS with h2's settings, and
// sends GOAWAY to HTTP/2 clients when srv.Shutdown is called. A nil h2
// disables HTTP/2 on srv instead, which ServeTLS needs (it would otherwise
// offer "h2" even when the TLS config does not). Call it once, before
// serving.
func ConfigureServer(srv *http.Server, h2 *http2.Server) error {
	if srv == nil {
		return fmt.Errorf("configuring HTTP/2: nil http.Server")
	}
	if h2 == nil {
		// A non-nil, empty TLSNextProto is net/http's documented switch for
		// turning HTTP/2 off.
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
		return nil
	}
	if err := http2.ConfigureServer(srv, h2); err != nil {
		return fmt.Errorf("configuring HTTP/2: %w", err)
	}
	return nil
}
