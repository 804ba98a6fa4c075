package proxy

import (
	"net/http"
	"net/netip"
	"time"
)

// Global is the proxy-wide configuration of the global ConfigMap
// (controller/globalconfig), swapped live with SetGlobal: each request
// reads the one in force when it starts.
type Global struct {
	// Trusted are peers whose forwarded headers are believed, in addition
	// to Options.TrustedProxies (use-forwarded-headers, enable-real-ip,
	// proxy-real-ip-cidr).
	Trusted []netip.Prefix
	// ForwardedFor is the header a believed peer names the client in
	// (forwarded-for-header; "" is X-Forwarded-For), in canonical form.
	ForwardedFor string
	// ComputeFull extends X-Forwarded-For from a peer believed through
	// Trusted; otherwise the backend gets the client address alone, as
	// ingress-nginx does by default (compute-full-forwarded-for).
	ComputeFull bool
	// BlockCIDRs, BlockUserAgents and BlockReferers are answered 403 on
	// every host (block-cidrs, block-user-agents, block-referers).
	BlockCIDRs      []netip.Prefix
	BlockUserAgents []Matcher
	BlockReferers   []Matcher
	// LimitReqStatus and LimitConnStatus answer requests over an Ingress's
	// rate and connection limits (0: 503, ingress-nginx's default).
	LimitReqStatus, LimitConnStatus int
	// ClientBodyTimeout, when positive, replaces Options.ClientBodyTimeout
	// (client-body-timeout).
	ClientBodyTimeout time.Duration
}

// bodyTimeout is the longest wait for each read of a client's body.
func (s *Server) bodyTimeout() time.Duration {
	if g := s.global.Load(); g != nil && g.ClientBodyTimeout > 0 {
		return g.ClientBodyTimeout
	}
	return s.opts.ClientBodyTimeout
}

// limitStatus is the status of a request refused by a rate limit (conn:
// by limit-connections).
func (s *Server) limitStatus(conn bool) int {
	code := 0
	if g := s.global.Load(); g != nil {
		code = g.LimitReqStatus
		if conn {
			code = g.LimitConnStatus
		}
	}
	if code < 400 || code > 599 {
		return http.StatusServiceUnavailable
	}
	return code
}

// Matcher matches a header value.
type Matcher interface{ Match(string) bool }

// SetGlobal puts g in force for the requests that start from now on (nil:
// none).
func (s *Server) SetGlobal(g *Global) { s.global.Store(g) }

// trust sets the client address of info from the forwarded headers of a
// believed peer: one in Options.TrustedProxies or Global.Trusted.
func (s *Server) trust(r *http.Request, info *requestInfo) {
	g := s.global.Load()
	if len(s.opts.TrustedProxies) == 0 && (g == nil || len(g.Trusted) == 0) {
		return
	}
	ip, err := netip.ParseAddr(info.peerIP)
	if err != nil {
		return
	}
	byFlag := contains(s.opts.TrustedProxies, ip)
	byConfig := g != nil && contains(g.Trusted, ip)
	if !byFlag && !byConfig {
		return
	}
	info.trustedPeer = true
	header := "X-Forwarded-For"
	if byConfig && g.ForwardedFor != "" {
		header = g.ForwardedFor
	}
	info.clientIP = s.clientFromForwarded(r.Header[header], info.peerIP, g)
	info.clientOnlyXFF = !byFlag && !g.ComputeFull
}

func contains(ps []netip.Prefix, ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// trusted reports whether a peer's forwarded headers are believed.
func (s *Server) trusted(ip netip.Addr, g *Global) bool {
	return contains(s.opts.TrustedProxies, ip) || (g != nil && contains(g.Trusted, ip))
}

// blocked reports whether the ConfigMap's block lists refuse the request.
func (s *Server) blocked(r *http.Request, info *requestInfo) bool {
	g := s.global.Load()
	if g == nil {
		return false
	}
	if len(g.BlockCIDRs) > 0 {
		ip, err := netip.ParseAddr(info.clientIP)
		if err != nil || contains(g.BlockCIDRs, ip) {
			return true // an address Weir cannot read cannot be cleared either
		}
	}
	return matchAny(g.BlockUserAgents, r.Header["User-Agent"]) || matchAny(g.BlockReferers, r.Header["Referer"])
}

func matchAny(ms []Matcher, vals []string) bool {
	if len(ms) == 0 {
		return false
	}
	v := ""
	if len(vals) > 0 {
		v = vals[0]
	}
	for _, m := range ms {
		if m.Match(v) {
			return true
		}
	}
	return false
}
