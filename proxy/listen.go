package proxy

import (
	"context"
	"crypto/tls"
	"log"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// ServerOptions configure Weir's client-facing HTTP servers. Zero values take
// the documented defaults.
type ServerOptions struct {
	// ReadHeaderTimeout cuts off clients that are slow to send their headers
	// (default 10s).
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections (default 75s, nginx's
	// keepalive_timeout).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds request headers; larger ones get 431 (default
	// 32 KiB).
	MaxHeaderBytes int
	// MaxConcurrentStreams per HTTP/2 connection (default 128, as
	// ingress-nginx).
	MaxConcurrentStreams int
	// CleartextHTTP2 accepts HTTP/2 with prior knowledge on the plain-HTTP
	// port (gRPC clients without TLS). The h2c Upgrade dance is never
	// honoured.
	CleartextHTTP2 bool
	// TLS, when set, makes an HTTPS server offering h2 and http/1.1.
	TLS *tls.Config
}

// NewHTTPServer returns an http.Server serving h with Weir's limits.
func NewHTTPServer(addr string, h http.Handler, opts ServerOptions, logger *zap.Logger) *http.Server {
	if opts.ReadHeaderTimeout <= 0 {
		opts.ReadHeaderTimeout = 10 * time.Second
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 75 * time.Second
	}
	if opts.MaxHeaderBytes <= 0 {
		opts.MaxHeaderBytes = 32 << 10
	}
	if opts.MaxConcurrentStreams <= 0 {
		opts.MaxConcurrentStreams = 128
	}
	srv := &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    opts.MaxHeaderBytes,
		TLSConfig:         opts.TLS,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: opts.MaxConcurrentStreams,
			MaxReadFrameSize:     1 << 20,
			SendPingTimeout:      30 * time.Second,
			PingTimeout:          15 * time.Second,
		},
		Protocols: new(http.Protocols),
	}
	srv.Protocols.SetHTTP1(true)
	if opts.TLS != nil {
		srv.Protocols.SetHTTP2(true)
	}
	if opts.CleartextHTTP2 {
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	if logger != nil {
		srv.ErrorLog = log.New(zapWriter{logger}, "", 0)
	}
	return srv
}

// zapWriter sends net/http's own error log (TLS handshake errors, panics)
// to zap at debug level: they are about clients, not about Weir.
type zapWriter struct{ l *zap.Logger }

func (z zapWriter) Write(p []byte) (int, error) {
	z.l.Debug("http server", zap.ByteString("message", p))
	return len(p), nil
}

// Shutdown drains srv: no new connections, keep-alive off, in-flight
// requests given until ctx ends, then everything closed.
func Shutdown(ctx context.Context, srv *http.Server) error {
	srv.SetKeepAlivesEnabled(false)
	err := srv.Shutdown(ctx)
	if err != nil {
		srv.Close()
	}
	return err
}
