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
// When x/net refuses the configuration (TLS 1.2 cipher suites without the
// one HTTP/2 requires), srv is left to net/http, which refuses it in the
// same way.
func serveHTTP2(srv *http.Server, sendTimeout time.Duration) {
	// ConfigureServer registers the server for Shutdown's GOAWAY and
	// checks the cipher suites; it would also add to srv.TLSConfig's
	// NextProtos, which stay the caller's, so it is shown a copy.
	saved := srv.TLSConfig
	if saved != nil {
		srv.TLSConfig = saved.Clone()
	}
	h2 := &http2.Server{}
	err := http2.ConfigureServer(srv, h2)
	srv.TLSConfig = saved
	if err != nil {
		srv.TLSNextProto = nil
		return
	}
	serve := func(hs *http.Server, c net.Conn, h http.Handler, sawPreface bool) {
		var ctx context.Context
		if bc, ok := h.(interface{ BaseContext() context.Context }); ok {
			ctx = bc.BaseContext()
		}
		h2.ServeConn(c, &http2.ServeConnOpts{Context: ctx, Handler: h, BaseConfig: hs, SawClientPreface: sawPreface})
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
