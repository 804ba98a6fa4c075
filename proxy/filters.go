package proxy

import (
	"strings"
	"time"

	"weir.dev/weir/proxy/table"
)

// The Gateway API's filters on the request path: route timeouts and
// request mirroring (mirror.go); its CORS filter is a cors.Policy that
// access.go applies as it applies ingress-nginx's. The handler calls them
// through one line each; routes that do not use them pay a nil or zero
// check.

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
