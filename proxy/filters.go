package proxy

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"weir.dev/weir/proxy/table"
)

// The Gateway API's filters on the request path: CORS, route timeouts and
// request mirroring (mirror.go). The handler calls them through one line
// each; routes that do not use them pay a nil or zero check.

// cors applies a route's CORS policy. A preflight request (OPTIONS with
// Origin and Access-Control-Request-Method) is answered here with 204 and
// never reaches the backend; it gets the Access-Control-Allow-* headers
// only when its origin is allowed, so the browser refuses otherwise. An
// ordinary request from an allowed origin gets Access-Control-Allow-Origin
// (and -Credentials, -Expose-Headers) on its response. It reports whether
// it answered.
func (s *Server) cors(w http.ResponseWriter, r *http.Request, c *table.CORS) bool {
	origin := r.Header.Get("Origin")
	h := w.Header()
	preflight := r.Method == http.MethodOptions && origin != "" && r.Header.Get("Access-Control-Request-Method") != ""
	if origin != "" {
		h.Add("Vary", "Origin")
	}
	allowed := origin != "" && c.AllowsOrigin(origin)
	if allowed {
		h.Set("Access-Control-Allow-Origin", allowOrigin(c, origin))
		if c.AllowCredentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if len(c.ExposeHeaders) > 0 {
			h.Set("Access-Control-Expose-Headers", strings.Join(c.ExposeHeaders, ", "))
		}
	}
	if !preflight {
		return false
	}
	if allowed {
		h.Set("Access-Control-Allow-Methods", allowList(c.AllowMethods, r.Header.Get("Access-Control-Request-Method")))
		if req := r.Header.Get("Access-Control-Request-Headers"); len(c.AllowHeaders) > 0 {
			h.Set("Access-Control-Allow-Headers", allowList(c.AllowHeaders, req))
		}
		maxAge := c.MaxAge
		if maxAge <= 0 {
			maxAge = 5 * time.Second
		}
		h.Set("Access-Control-Max-Age", strconv.Itoa(int(maxAge/time.Second)))
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

// allowOrigin is the Access-Control-Allow-Origin value: "*" when any origin
// may call without credentials, else the caller's origin (browsers refuse
// "*" on a request with credentials).
func allowOrigin(c *table.CORS, origin string) string {
	if !c.AllowCredentials {
		for _, o := range c.AllowOrigins {
			if o == "*" {
				return "*"
			}
		}
	}
	return origin
}

// allowList answers a preflight's method or header list: the configured
// list, or, for "*", what was asked (a literal "*" means nothing to a
// browser when credentials are allowed).
func allowList(list []string, requested string) string {
	for _, v := range list {
		if v == "*" && requested != "" {
			return requested
		}
	}
	return strings.Join(list, ", ")
}

// isCORSHeader names the response headers a route's CORS policy owns: an
// endpoint's own values for them are not passed on.
func isCORSHeader(k string) bool { return strings.HasPrefix(k, "Access-Control-") }

// routeTimeouts tightens one request's endpoint timeouts to its route's
// Gateway API timeouts: backendRequest bounds each attempt's wait for the
// response headers (and each read of the body), request the whole
// exchange, so no attempt starts or waits past it. It returns the retry
// deadline.
func routeTimeouts(a *table.Action, to *timeouts, start, deadline time.Time) time.Time {
	rt := a.Timeouts
	if rt.BackendRequest > 0 && rt.BackendRequest < to.read {
		to.read = rt.BackendRequest
	}
	if rt.Request <= 0 {
		return deadline
	}
	end := start.Add(rt.Request)
	left := max(time.Until(end), time.Millisecond)
	to.read, to.connect = min(to.read, left), min(to.connect, left)
	if deadline.IsZero() || end.Before(deadline) {
		return end
	}
	return deadline
}
