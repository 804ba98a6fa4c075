package proxy

import (
	"net/http"
	"net/netip"

	"weir.dev/weir/proxy/auth"
	"weir.dev/weir/proxy/table"
)

// access runs an action's ingress-nginx access checks before the request is
// forwarded, in nginx's phase order: a CORS preflight is answered first
// (204, without reaching the backend), then the rate limits (503), basic
// authentication (401) and external authentication (401, 403, 302 to
// sign-in, 500). It returns the writer to forward with and false when it
// answered the request itself. A route without these annotations costs four
// nil checks.
func (s *Server) access(w http.ResponseWriter, r *http.Request, a *table.Action, ex *exchange) (http.ResponseWriter, bool) {
	if a.CORS == nil && a.RateLimit == nil && a.BasicAuth == nil && a.ExternalAuth == nil {
		return w, true
	}
	if a.CORS != nil && a.CORS.Apply(w.Header(), r) {
		h := w.Header()
		h["Content-Type"] = []string{"text/plain charset=UTF-8"}
		h["Content-Length"] = []string{"0"}
		w.WriteHeader(http.StatusNoContent)
		ex.status = http.StatusNoContent
		return w, false
	}
	if a.RateLimit != nil && !a.RateLimit.Acquire(clientAddr(ex)) {
		ex.status = s.answer(w, http.StatusServiceUnavailable, "service temporarily unavailable (rate limit)")
		return w, false
	}
	if a.BasicAuth != nil {
		if !a.BasicAuth.Allow(r) {
			w.Header()["Www-Authenticate"] = a.BasicAuth.Challenge()
			ex.status = s.answer(w, http.StatusUnauthorized, "authorization required")
			s.releaseAccess(a, ex)
			return w, false
		}
		// As ingress-nginx does, the backend never sees the credentials.
		delete(r.Header, "Authorization")
	}
	if a.ExternalAuth != nil {
		return s.externalAuth(w, r, a, ex)
	}
	return w, true
}

// externalAuth asks the auth service and applies its decision.
func (s *Server) externalAuth(w http.ResponseWriter, r *http.Request, a *table.Action, ex *exchange) (http.ResponseWriter, bool) {
	d := a.ExternalAuth.Check(r.Context(), r, auth.Facts{Scheme: ex.info.scheme, ClientIP: ex.info.clientIP, RequestID: ex.info.requestID})
	h := w.Header()
	if d.Status == 0 {
		for k, vs := range d.Upstream {
			r.Header[k] = vs
		}
		if len(d.SetCookie) > 0 {
			return &cookieWriter{ResponseWriter: w, cookies: d.SetCookie}, true
		}
		return w, true
	}
	if len(d.SetCookie) > 0 {
		h["Set-Cookie"] = d.SetCookie
	}
	switch d.Status {
	case http.StatusFound:
		h["Location"] = []string{d.Location}
		ex.status = s.answer(w, http.StatusFound, "sign in at "+d.Location)
	case http.StatusUnauthorized:
		if len(d.WWWAuthenticate) > 0 {
			h["Www-Authenticate"] = d.WWWAuthenticate
		}
		ex.status = s.answer(w, http.StatusUnauthorized, "authorization required")
	case http.StatusForbidden:
		ex.status = s.answer(w, http.StatusForbidden, "forbidden")
	default:
		ex.err = d.Err
		ex.status = s.answer(w, http.StatusInternalServerError, "authentication service failed")
	}
	s.releaseAccess(a, ex)
	return w, false
}

// releaseAccess ends what access acquired (a limit-connections slot); the
// handler defers it for every request access let through.
func (s *Server) releaseAccess(a *table.Action, ex *exchange) {
	if a.RateLimit != nil {
		a.RateLimit.Release(clientAddr(ex))
	}
}

// clientAddr is the address rate limits count: the client's, from trusted
// forwarded headers when the peer is trusted.
func clientAddr(ex *exchange) netip.Addr {
	ip, err := netip.ParseAddr(ex.info.clientIP)
	if err != nil {
		return netip.IPv6Unspecified()
	}
	return ip.Unmap()
}

// cookieWriter adds the auth service's Set-Cookie values to the backend's
// response (nginx's add_header Set-Cookie $auth_cookie) instead of letting
// the backend's own Set-Cookie replace them.
type cookieWriter struct {
	http.ResponseWriter
	cookies []string
	wrote   bool
}

func (c *cookieWriter) WriteHeader(code int) {
	if !c.wrote {
		c.wrote = true
		h := c.ResponseWriter.Header()
		h["Set-Cookie"] = append(h["Set-Cookie"][:len(h["Set-Cookie"]):len(h["Set-Cookie"])], c.cookies...)
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *cookieWriter) Write(b []byte) (int, error) {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	return c.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flushes,
// upgrades).
func (c *cookieWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
