package proxy

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/http2"
)

// serveHTTP2 makes srv serve HTTP/2 (over TLS, and with prior knowledge
// when its Protocols allow it) with x/net/http2's server on an h2Conn
// rather than with net/http's bundled copy of the same server, which
// accepts only the *tls.Conn itself. Limits, timeouts and hardening are
// the same code, configured from srv.HTTP2 and srv's timeouts.
//
// When x/net refuses the configuration, srv is left to net/http.
func serveHTTP2(srv *http.Server, sendTimeout time.Duration) {
	// ConfigureServer registers the server for Shutdown's GOAWAY and
	// checks the cipher suites; it would also add to srv.TLSConfig's
	// NextProtos, which stay the caller's, so it is shown a copy.
	//
	// Its cipher check is left out: it refuses any TLS 1.2 suite list
	// without ECDHE AES-128-GCM, and HTTP/2 then failed on the whole
	// listener (an ssl-ciphers of AES-256-GCM suites only, TLS 1.3 clients
	// included) while ALPN still offered h2. Each connection's suite is
	// still checked against RFC 9113's list (INADEQUATE_SECURITY).
	saved := srv.TLSConfig
	if saved != nil {
		srv.TLSConfig = saved.Clone()
		srv.TLSConfig.CipherSuites = nil
	}
	h2 := &http2.Server{}
	err := http2.ConfigureServer(srv, h2)
	srv.TLSConfig = saved
	if err != nil {
		srv.TLSNextProto = nil
		return
	}
	serve := func(hs *http.Server, c net.Conn, h http.Handler, sawPreface bool) {
		// The connection's context (the server and local address in it)
		// comes from net/http's handler.
		var ctx context.Context
		if bc, ok := h.(interface{ BaseContext() context.Context }); ok {
			ctx = bc.BaseContext()
		}
		// headerLimit checks only HTTP/1.x heads: its handler serves the
		// streams directly.
		next := hs.Handler
		if hl, ok := next.(headerLimit); ok {
			next = hl.next
		}
		h2.ServeConn(c, &http2.ServeConnOpts{Context: ctx, Handler: h2Handler{orig: h, next: next, tls: !sawPreface},
			BaseConfig: hs, SawClientPreface: sawPreface})
	}
	srv.TLSNextProto["h2"] = func(hs *http.Server, c *tls.Conn, h http.Handler) {
		serve(hs, h2TLSConn{newH2Conn(c, sendTimeout), c}, h, false)
	}
	// net/http hands a clear-text connection over wrapped in a *tls.Conn,
	// the client's preface already read.
	srv.TLSNextProto["unencrypted_http2"] = func(hs *http.Server, c *tls.Conn, h http.Handler) {
		u, ok := c.NetConn().(interface{ UnencryptedNetConn() net.Conn })
		if !ok {
			c.Close()
			return
		}
		serve(hs, newH2Conn(u.UnencryptedNetConn(), sendTimeout), h, true)
	}
}

// h2Handler serves the streams of an HTTP/2 connection. net/http hands
// x/net a handler of its own (orig) that gives a request the TLS state (on
// a TLS connection), body and remote address it lacks, answers "OPTIONS *"
// itself, then calls the server's handler. x/net's requests lack none of
// them (h2TLSConn reports the TLS state), so every other request goes
// straight to the server's handler (next, past headerLimit, which checks
// only HTTP/1.x heads): three frames and about 670 bytes less on a
// stream's stack, which must stay within the 4 KiB a new goroutine gets
// (docs/performance.md, "A request path within a stream's first stack").
type h2Handler struct {
	orig, next http.Handler
	tls        bool // a connection over TLS (else h2c)
}

func (h h2Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.next == nil || h.tls && r.TLS == nil || r.Body == nil || r.RemoteAddr == "" || r.RequestURI == "*" || r.ProtoMajor != 2 {
		h.orig.ServeHTTP(w, r)
		return
	}
	h.next.ServeHTTP(w, r)
}
