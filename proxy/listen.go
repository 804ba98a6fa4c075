package proxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"log"
	"net"
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
	// 32 KiB). See headerLimit for how each protocol counts them.
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
	// SendTimeout closes a connection whose client takes no bytes of its
	// answer for this long (default 60s, nginx's send_timeout); see
	// sendtimeout.go. Weir's HTTP/1.x server and HTTP/2 apply it.
	SendTimeout time.Duration
	// HTTP1 picks the HTTP/1.x server: HTTP1Weir (Weir's own loop,
	// h1server.go) or HTTP1NetHTTP; empty takes DefaultHTTP1. HTTP/2 is
	// always x/net/http2's (h2serve.go).
	HTTP1 string

	// rawIdleWait replaces the const rawIdleWait when set (tests).
	rawIdleWait time.Duration
}

// The HTTP/1.x servers (--http1-server).
const (
	HTTP1Weir    = "weir"
	HTTP1NetHTTP = "net/http"
	DefaultHTTP1 = HTTP1Weir
)

// HTTPServer is one of Weir's client-facing servers. Its methods are
// http.Server's, and with HTTP1Weir they serve HTTP/1.x with Weir's own
// loop and hand HTTP/2 connections to the http.Server, which passes them
// to x/net/http2's server (serveHTTP2).
type HTTPServer struct {
	*http.Server
	h1 *h1Server // nil: net/http serves HTTP/1.x too
}

// Serve serves clear-text connections from ln.
func (s *HTTPServer) Serve(ln net.Listener) error {
	if s.h1 == nil {
		return s.Server.Serve(ln)
	}
	return s.h1.serve(ln, nil)
}

// ServeTLS serves TLS connections from ln with the server's TLS
// configuration (and the certificate files, when given, as http.Server).
func (s *HTTPServer) ServeTLS(ln net.Listener, certFile, keyFile string) error {
	if s.h1 == nil {
		return s.Server.ServeTLS(ln, certFile, keyFile)
	}
	conf := s.TLSConfig
	if conf == nil {
		conf = &tls.Config{}
	}
	if len(conf.NextProtos) == 0 || certFile != "" {
		conf = conf.Clone()
		if len(conf.NextProtos) == 0 {
			conf.NextProtos = []string{"h2", "http/1.1"}
		}
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return fmt.Errorf("load certificate: %w", err)
		}
		conf.Certificates = append(conf.Certificates, cert)
	}
	return s.h1.serve(ln, conf)
}

// Shutdown stops accepting, closes idle connections and waits for the
// others until ctx ends.
func (s *HTTPServer) Shutdown(ctx context.Context) error {
	if s.h1 == nil {
		return s.Server.Shutdown(ctx)
	}
	return s.h1.shutdown(ctx)
}

// Close closes the listeners and every connection.
func (s *HTTPServer) Close() error {
	if s.h1 == nil {
		return s.Server.Close()
	}
	return s.h1.close()
}

// SetKeepAlivesEnabled turns keep-alive on or off for the answers that
// follow.
func (s *HTTPServer) SetKeepAlivesEnabled(v bool) {
	s.Server.SetKeepAlivesEnabled(v)
	if s.h1 != nil {
		s.h1.noKeepAlive.Store(!v)
	}
}

// NewHTTPServer returns a server of h with Weir's limits.
func NewHTTPServer(addr string, h http.Handler, opts ServerOptions, logger *zap.Logger) *HTTPServer {
	if opts.ReadHeaderTimeout <= 0 {
		opts.ReadHeaderTimeout = 10 * time.Second
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 75 * time.Second
	}
	if opts.MaxHeaderBytes <= 0 {
		opts.MaxHeaderBytes = 32 << 10
	}
	if opts.SendTimeout <= 0 {
		opts.SendTimeout = defaultSendTimeout
	}
	if opts.MaxConcurrentStreams <= 0 {
		opts.MaxConcurrentStreams = 128
	}
	srv := &http.Server{
		Addr:              addr,
		Handler:           headerLimit{next: h, max: opts.MaxHeaderBytes},
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    max(opts.MaxHeaderBytes-h2HeaderSlack, 1),
		TLSConfig:         opts.TLS,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: opts.MaxConcurrentStreams,
			MaxReadFrameSize:     1 << 20,
			SendPingTimeout:      30 * time.Second,
			PingTimeout:          15 * time.Second,
			// A client that takes no bytes for this long loses the
			// connection (h2Conn applies the same timeout itself).
			WriteByteTimeout: opts.SendTimeout,
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
	if opts.TLS != nil || opts.CleartextHTTP2 {
		serveHTTP2(srv, opts.SendTimeout)
	}
	if logger != nil {
		srv.ErrorLog = log.New(zapWriter{logger}, "", 0)
	}
	switch opts.HTTP1 {
	case "":
		opts.HTTP1 = DefaultHTTP1
	case HTTP1Weir, HTTP1NetHTTP:
	default:
		panic(fmt.Sprintf("proxy: unknown HTTP/1 server %q", opts.HTTP1)) // the flag is checked first
	}
	if opts.HTTP1 == HTTP1NetHTTP {
		return &HTTPServer{Server: srv}
	}
	return &HTTPServer{Server: srv, h1: newH1Server(srv.Handler, opts, srv, logger)}
}

// h2HeaderSlack is what net/http adds to Server.MaxHeaderBytes to make the
// HTTP/2 SETTINGS_MAX_HEADER_LIST_SIZE (32 bytes for each of ten fields);
// for HTTP/1.x it adds 4096 bytes instead.
const h2HeaderSlack = 320

// headerLimit enforces MaxHeaderBytes exactly. net/http's own limits are
// MaxHeaderBytes plus a slack that differs by protocol, so the server is
// given max-320:
//   - HTTP/2: the header list size (RFC 9113 section 6.5.2: name, value
//     and 32 bytes per field, pseudo-fields included) is then exactly max,
//     advertised in SETTINGS; a larger list gets 431 from net/http. A single
//     field longer than max, or a header block frame more than twice what is
//     left of the limit, is a connection error (COMPRESSION_ERROR or
//     PROTOCOL_ERROR) in x/net/http2's server, which stops decoding
//     there rather than read on; that cannot be configured.
//   - HTTP/1.x: net/http refuses heads over max+3776 bytes itself (431) and
//     this handler refuses the rest: the head counted as it is written
//     ("METHOD target HTTP/1.1", then "Name: value" lines, each with its
//     CRLF, and the empty line), which is its size on the wire unless the
//     client padded it with extra spaces.
type headerLimit struct {
	next http.Handler
	max  int
}

func (l headerLimit) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 && !l.clearlyWithin(w, r) && requestHeadSize(r) > l.max {
		refuseLargeHead(w)
		return
	}
	l.next.ServeHTTP(w, r)
}

// refuseLargeHead answers 431 and closes the connection. Never inlined,
// so that every request's stack does not hold its frame
// (docs/performance.md, "A request path within a stream's first stack").
//
//go:noinline
func refuseLargeHead(w http.ResponseWriter) {
	w.Header()["Connection"] = []string{"close"}
	http.Error(w, "431 Request Header Fields Too Large", http.StatusRequestHeaderFieldsTooLarge)
}

// wireHead is a ResponseWriter that knows the size of its request's head
// as it came on the wire (Weir's HTTP/1.x server).
type wireHead interface{ wireHeadSize() int }

// clearlyWithin reports, without walking the header map, that the head
// of r cannot count more than the limit: requestHeadSize counts the
// request line as on the wire, each field line (Transfer-Encoding's too)
// at most one byte more than on the wire (a field line is at least 4
// bytes), the final CRLF, which the wire size leaves out, and a Host line
// that the wire may not have (an absolute-form target's authority).
func (l headerLimit) clearlyWithin(w http.ResponseWriter, r *http.Request) bool {
	wh, ok := w.(wireHead)
	if !ok {
		return false
	}
	n := wh.wireHeadSize()
	return n+n/4+len(r.Host)+64 <= l.max
}

// requestHeadSize is the size of an HTTP/1.x request head as parsed.
// net/http moves Host and Transfer-Encoding out of the header map.
func requestHeadSize(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2 + 2
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	for _, te := range r.TransferEncoding {
		n += len("Transfer-Encoding: ") + len(te) + 2
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + 2 + len(v) + 2
		}
	}
	return n
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
func Shutdown(ctx context.Context, srv *HTTPServer) error {
	srv.SetKeepAlivesEnabled(false)
	err := srv.Shutdown(ctx)
	if err != nil {
		srv.Close()
	}
	return err
}
