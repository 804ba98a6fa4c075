package proxy

import (
	"net/http"
	"net/netip"

	"weir.dev/weir/proxy/auth"
	"weir.dev/weir/proxy/cors"
	"weir.dev/weir/proxy/ratelimit"
	"weir.dev/weir/proxy/table"
)

// access runs an action's ingress-nginx access checks before the request is
// forwarded, in nginx's phase order: a CORS preflight is answered first
// (204, without reaching the backend), then the rate limits (503), basic or
// digest authentication (401) and external authentication (401, 403, 302 to
// sign-in, 500); limit-rate paces the response. It returns the writer to
// forward with, and false when it answered the request itself. A route
// without these annotations costs five nil checks.
func (s *Server) access(w http.ResponseWriter, r *http.Request, a *table.Action, ex *exchange) (http.ResponseWriter, bool) {
	if a.CORS == nil && a.RateLimit == nil && a.BasicAuth == nil && a.ExternalAuth == nil && a.ClientCert == nil {
		return w, true
	}
	if a.ClientCert != nil && !s.clientCert(w, r, a, ex) {
		return w, false
	}
	var corsMatched bool
	if a.CORS != nil {
		preflight := a.CORS.Apply(w.Header(), r)
		corsMatched = w.Header()["Access-Control-Allow-Origin"] != nil
		if preflight {
			return s.preflight(w, ex)
		}
	}
	if a.RateLimit != nil {
		if ok, conn := a.RateLimit.Admit(clientAddr(ex)); !ok {
			code := s.limitStatus(conn)
			ex.status = s.answer(w, code, http.StatusText(code)+" (rate limit)")
			return w, false
		}
	}
	if a.BasicAuth != nil && !s.basicAuth(w, r, a, ex) {
		return w, false
	}
	var cookies []string
	if a.ExternalAuth != nil {
		var ok bool
		if cookies, ok = s.externalAuth(w, r, a, ex); !ok {
			return w, false
		}
	}
	var throttle *ratelimit.Throttle
	if a.RateLimit != nil {
		throttle = a.RateLimit.Throttle()
	}
	if corsMatched || len(cookies) > 0 || throttle != nil {
		aw := &accessWriter{ResponseWriter: w, r: r, cookies: cookies, throttle: throttle}
		if corsMatched {
			aw.cors = a.CORS
		}
		return aw, true
	}
	return w, true
}

// preflight answers a CORS preflight whose headers are set.
func (s *Server) preflight(w http.ResponseWriter, ex *exchange) (http.ResponseWriter, bool) {
	w.WriteHeader(http.StatusNoContent)
	ex.status = http.StatusNoContent
	return w, false
}

// basicAuth checks the credentials (basic or digest); it answers 401 and
// returns false when they are missing or wrong. As ingress-nginx does, the backend never sees
// them.
func (s *Server) basicAuth(w http.ResponseWriter, r *http.Request, a *table.Action, ex *exchange) bool {
	if ok, challenge := a.BasicAuth.Check(r); !ok {
		w.Header()["Www-Authenticate"] = challenge
		ex.status = s.answer(w, http.StatusUnauthorized, "authorization required")
		s.releaseAccess(a, ex)
		return false
	}
	delete(r.Header, "Authorization")
	return true
}

// externalAuth asks the auth service and applies its decision: it returns
// the cookies to add to the backend's response, or false when it answered.
func (s *Server) externalAuth(w http.ResponseWriter, r *http.Request, a *table.Action, ex *exchange) ([]string, bool) {
	f := auth.Facts{Scheme: ex.info.scheme, ClientIP: ex.info.clientIP, RequestID: ex.info.requestID}
	if ex.route != nil {
		f.RouteHost, f.RoutePath, f.RouteKind = ex.route.Host, ex.route.Path.Value, byte(ex.route.Path.Type)
	}
	d := a.ExternalAuth.Check(r.Context(), r, f)
	if d.Status == 0 {
		for k, vs := range d.Upstream {
			if len(vs) == 0 {
				delete(r.Header, k)
			} else {
				r.Header[k] = vs
			}
		}
		return d.SetCookie, true
	}
	h := w.Header()
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
	return nil, false
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

// accessWriter finishes the head of the backend's response the way nginx
// does: the CORS headers are set again over any the backend sent
// (more_set_headers), and the auth service's Set-Cookie values are added to
// the backend's (add_header).
type accessWriter struct {
	http.ResponseWriter
	r       *http.Request
	cors    *cors.Policy
	cookies []string
	// throttle paces the body (limit-rate); nil sends it as it comes.
	throttle *ratelimit.Throttle
	wrote    bool
}

func (c *accessWriter) WriteHeader(code int) {
	if !c.wrote {
		c.wrote = true
		h := c.ResponseWriter.Header()
		if c.cors != nil {
			c.cors.Apply(h, c.r)
		}
		if len(c.cookies) > 0 {
			h["Set-Cookie"] = append(h["Set-Cookie"][:len(h["Set-Cookie"]):len(h["Set-Cookie"])], c.cookies...)
		}
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *accessWriter) Write(b []byte) (int, error) {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	if c.throttle == nil {
		return c.ResponseWriter.Write(b)
	}
	return c.paced(b)
}

// paced writes b in chunks, each once the rate allows it, flushed so that
// the pace is the client's.
func (c *accessWriter) paced(b []byte) (int, error) {
	rc := http.NewResponseController(c.ResponseWriter)
	written := 0
	for len(b) > 0 {
		n := min(len(b), c.throttle.Chunk())
		if err := c.throttle.Wait(c.r.Context(), n); err != nil {
			return written, err
		}
		m, err := c.ResponseWriter.Write(b[:n])
		written += m
		if err != nil {
			return written, err
		}
		if err := rc.Flush(); err != nil {
			return written, err
		}
		b = b[n:]
	}
	return written, nil
}

// Unwrap lets http.ResponseController reach the connection (flushes,
// upgrades).
func (c *accessWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
