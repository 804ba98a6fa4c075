package proxy

import (
	"context"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"weir.dev/weir/proxy/table"
)

// maxBackendTLS bounds the transports kept for backends with their own TLS
// settings (proxy-ssl-*); past it they are all closed and made afresh.
const maxBackendTLS = 256

// backendTLS keeps one transport pair per BackendTLS.Key, so a new table
// with the same Secret and settings reuses the connections.
type backendTLS struct {
	u  *upstreams
	mu sync.Mutex
	by map[string]*tlsTransports
}

type tlsTransports struct {
	https *http.Transport
	h2tls *http2.Transport
}

// roundTripBackend sends out to b: over b's own TLS transports when it has
// proxy-ssl settings and speaks TLS, else as roundTrip does.
func (u *upstreams) roundTripBackend(ctx context.Context, b *table.Backend, out *outgoing, to *timeouts) (*http.Response, error) {
	if b.Protocol == table.HTTP1 {
		return u.roundTripH1(ctx, out, to) // roundTrip's case, a frame less deep
	}
	if b.TLS == nil || (b.Protocol != table.HTTPS && b.Protocol != table.GRPCS) {
		return u.roundTrip(ctx, b.Protocol, out, to)
	}
	t := u.custom.get(b.TLS)
	if b.Protocol == table.GRPCS {
		return roundTripStd(ctx, t.h2tls, "https", out, to)
	}
	return roundTripStd(ctx, t.https, "https", out, to)
}

func (c *backendTLS) get(bt *table.BackendTLS) *tlsTransports {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.by[bt.Key]; ok {
		return t
	}
	if len(c.by) >= maxBackendTLS || c.by == nil {
		c.closeLocked()
	}
	base := c.u.https
	conf := bt.Config.Clone()
	conf.NextProtos = []string{"h2", "http/1.1"}
	h2conf := bt.Config.Clone()
	h2conf.NextProtos = []string{"h2"}
	t := &tlsTransports{
		https: &http.Transport{DialContext: base.DialContext, TLSClientConfig: conf, ForceAttemptHTTP2: true,
			MaxIdleConnsPerHost: base.MaxIdleConnsPerHost, IdleConnTimeout: base.IdleConnTimeout,
			DisableCompression: true, TLSHandshakeTimeout: 10 * time.Second},
		h2tls: &http2.Transport{TLSClientConfig: h2conf, IdleConnTimeout: c.u.h2tls.IdleConnTimeout,
			ReadIdleTimeout: 30 * time.Second, PingTimeout: 10 * time.Second},
	}
	c.by[bt.Key] = t
	return t
}

func (c *backendTLS) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked()
}

// closeLocked closes every idle connection and forgets the transports.
func (c *backendTLS) closeLocked() {
	for _, t := range c.by {
		t.https.CloseIdleConnections()
		t.h2tls.CloseIdleConnections()
	}
	c.by = make(map[string]*tlsTransports)
}
