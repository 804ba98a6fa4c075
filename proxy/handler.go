package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"go.uber.org/zap"

	"weir.dev/weir/proxy/balance"
	"weir.dev/weir/proxy/table"
	"weir.dev/weir/proxy/upstream"
	"weir.dev/weir/proxy/wire"
)

// exchange is the record of one request: what the handler decided and what
// happened, for the access log and the metrics.
type exchange struct {
	start     time.Time
	route     *table.Route
	backend   *table.Backend
	side      table.Side
	status    int
	bytes     int64
	upstream  string
	upLatency time.Duration
	upStart   time.Duration // when the last attempt was sent, from start
	attempts  int
	err       error
	// reason, when set, is the error reason for metrics and the log.
	reason string
	// abort breaks the client's connection (or resets its stream) once the
	// request is recorded: its answer is incomplete, or it has none.
	abort bool
	info  requestInfo
	out   outgoing // the request to the endpoint
	snap  *snapshot
}

// exchangeRoom is a ResponseWriter that holds room for its request's
// exchange record: Weir's HTTP/1.x server keeps it in the allocation of
// the request itself (h1Exchange), one allocation fewer per request.
type exchangeRoom interface{ exchangeRoom() *exchange }

// newExchange returns the zeroed record of the request w answers.
func newExchange(w http.ResponseWriter) *exchange {
	if er, ok := w.(exchangeRoom); ok {
		ex := er.exchangeRoom()
		*ex = exchange{start: time.Now()}
		return ex
	}
	return &exchange{start: time.Now()}
}

// ServeHTTP serves one request from the table in service.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := newExchange(w)
	snap := s.snap.Load()
	s.metrics.inFlight.Inc()
	defer s.metrics.inFlight.Dec()
	if s.draining.Load() || r.ProtoMajor == 1 && len(r.TransferEncoding) > 0 {
		// A chunked HTTP/1.x request may also have carried a Content-Length
		// that net/http dropped without a trace: RFC 9112 section 6.1 then
		// wants the connection closed after the response, so that no byte
		// a front proxy framed differently is read as a next request.
		w.Header()["Connection"] = []string{"close"}
	}
	if status, msg := checkRequest(r); status != 0 {
		ex.status, ex.reason = s.answer(w, status, msg), reasonBadRequest
		s.observe(r, snap.def, ex)
		return
	}
	host := table.NormalizeHost(r.Host)
	path := table.CleanPath(r.URL.Path)
	ex.route = snap.table.Lookup(host, path, r)
	action := snap.table.Default()
	series := snap.def
	if ex.route != nil {
		action = ex.route.Action
		series = snap.series.At(ex.route.Index())
	}
	s.fillRequestInfo(&ex.info, r)
	ex.snap = snap
	s.serve(w, r, snap, action, path, ex)
	s.observe(r, series, ex)
	if ex.abort {
		panic(http.ErrAbortHandler)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, snap *snapshot, a *table.Action, path string, ex *exchange) {
	switch {
	case s.blocked(r, &ex.info): // global.go
		ex.status = s.answer(w, http.StatusForbidden, "forbidden")
		return
	case a == nil:
		ex.status = s.answer(w, http.StatusNotFound, "default backend - 404")
		return
	case a.SSLRedirect && r.TLS == nil && !strings.HasPrefix(path, "/.well-known/acme-challenge/"):
		ex.status = sslRedirect(w, r)
		return
	case a.Redirect != nil:
		ex.status = s.redirect(w, r, ex.route, a.Redirect)
		return
	case a.Respond != nil:
		ex.status = s.answer(w, a.Respond.Status, a.Respond.Body)
		return
	}
	if (len(a.SourceDeny) > 0 || len(a.SourceAllow) > 0) && !sourceAllowed(a, ex.info.clientIP) {
		ex.status = s.answer(w, http.StatusForbidden, "forbidden")
		return
	}
	if a.HSTS != "" && r.TLS != nil {
		if !wire.ValidFieldValue(a.HSTS) {
			s.refuseHSTS(w, a.HSTS, ex)
			return
		}
		w.Header()["Strict-Transport-Security"] = []string{a.HSTS}
	}
	w, ok := s.access(w, r, a, ex)
	if !ok {
		return
	}
	defer s.releaseAccess(a, ex)
	if a.MaxBodyBytes > 0 {
		if r.ContentLength > a.MaxBodyBytes {
			ex.status = s.answer(w, http.StatusRequestEntityTooLarge, "request body too large")
			return
		}
		if r.ContentLength != 0 {
			r.Body = http.MaxBytesReader(w, r.Body, a.MaxBodyBytes)
		}
	}
	b, side, pinned := s.choose(r, snap, a)
	ex.backend, ex.side = b, side
	if b == nil {
		ex.status = s.answer(w, http.StatusInternalServerError, "no backend with weight")
		return
	}
	if a = a.ForBackend(b); len(a.Mirrors) > 0 {
		s.mirror(w, r, snap, a)
	}
	if a.Compression != nil {
		cw := a.Compression.Wrap(w, r)
		defer closeCompression(cw, ex)
		w = cw
	}
	pool := snap.pools.At(b.Index())
	if len(pool.Endpoints()) == 0 {
		s.noEndpoint(w, r, a, b, ex)
		return
	}
	s.forward(w, r, pool, a, pinned, ex)
}

// sourceAllowed applies an action's deny list, then its allow list, to the
// client's address (from trusted forwarded headers when the peer is trusted).
func sourceAllowed(a *table.Action, client string) bool {
	ip, err := netip.ParseAddr(client)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range a.SourceDeny {
		if p.Contains(ip) {
			return false
		}
	}
	if len(a.SourceAllow) == 0 {
		return true
	}
	for _, p := range a.SourceAllow {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// forward sends the request to endpoints of pool until one answers or the
// retry policy gives up, then streams the answer to the client.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, pool *balance.Pool, a *table.Action, pinned string, ex *exchange) {
	b := pool.Backend()
	out := s.fillOutgoing(&ex.out, w, r, ex.route, a, &ex.info)
	if err := checkOutgoing(out); err != nil {
		s.refuseRequestHead(w, b, err, ex)
		return
	}
	to := backendTimeouts(b)
	tries := max(b.Retry.Tries, 1)
	var deadline time.Time
	if b.Retry.Timeout > 0 {
		deadline = ex.start.Add(b.Retry.Timeout)
	}
	deadline = routeTimeouts(a, &to, ex.start, deadline)
	var triedBuf [4]*balance.Endpoint
	tried := triedBuf[:0]
	var inFlight *balance.Endpoint // begun, not ended yet
	defer endOnPanic(&inFlight)
	for attempt := 0; attempt < tries; attempt++ {
		if attempt > 0 && !deadline.IsZero() && time.Now().After(deadline) {
			break
		}
		if attempt > 0 && a.Timeouts.Request > 0 {
			// timeouts.request bounds every attempt together: a later one
			// gets only what is left of it.
			left := max(time.Until(ex.start.Add(a.Timeouts.Request)), time.Millisecond)
			to.read, to.connect = min(to.read, left), min(to.connect, left)
		}
		ep := s.pick(r, pool, pinned, &ex.info, tried)
		if ep == nil {
			break
		}
		pinned = ""
		tried = append(tried, ep)
		ex.attempts++
		ex.upstream = ep.Address()
		out.addr, out.gone = ep.Address(), ep.Gone()
		ep.Begin()
		inFlight = ep
		t0 := ex.start
		if attempt > 0 {
			t0 = time.Now()
		}
		resp, err := s.upstreams.roundTripBackend(r.Context(), b, out, &to)
		ex.upLatency, ex.upStart = time.Since(t0), t0.Sub(ex.start)
		if err == nil {
			err = checkResponse(resp, out)
		}
		if err != nil && s.clientFault(w, r, out, err, ex) {
			inFlight = nil
			ep.End(balance.Outcome{Latency: ex.upLatency})
			return
		}
		if err != nil {
			inFlight = nil
			ep.End(balance.Outcome{Latency: ex.upLatency, Failed: true})
			ex.err = err
			if attempt+1 < tries && retryable(err, out, b.Retry.On) {
				continue
			}
			break
		}
		failed := b.Passive.On5xx && resp.StatusCode >= 500
		if attempt+1 < tries && retryStatus(resp.StatusCode, out, b.Retry.On) {
			resp.Body.Close()
			inFlight = nil
			ep.End(balance.Outcome{Latency: ex.upLatency, Failed: failed, Status: resp.StatusCode})
			continue
		}
		blame := s.respond(w, r, resp, pool, a, ep, out, ex)
		inFlight = nil
		ep.End(balance.Outcome{Latency: ex.upLatency, Failed: failed || blame, Status: resp.StatusCode})
		return
	}
	s.failed(w, r, a, b, ex)
}

// refuseHSTS answers 500 for a route whose HSTS value may not be written.
// This and refuseRequestHead are functions of their own, never inlined: a
// cold path's log fields would otherwise widen the frames of every request
// (docs/performance.md, "A request path within a stream's first stack").
//
//go:noinline
func (s *Server) refuseHSTS(w http.ResponseWriter, hsts string, ex *exchange) {
	s.log.Error("response head not sent", zap.Error(fmt.Errorf("%w: HSTS %q", errUnsafeHead, wire.Truncate([]byte(hsts)))))
	ex.status, ex.reason = s.answer(w, http.StatusInternalServerError, "invalid response head"), reasonUnsafeHead
}

// refuseRequestHead answers 500 for a request head checkOutgoing refused.
// Client bytes were checked on arrival: this came from configuration.
//
//go:noinline
func (s *Server) refuseRequestHead(w http.ResponseWriter, b *table.Backend, err error, ex *exchange) {
	s.log.Error("request head not sent", zap.String("backend", b.Name), zap.Error(err))
	ex.status, ex.err, ex.reason = s.answer(w, http.StatusInternalServerError, "invalid request head"), err, reasonUnsafeHead
}

// endOnPanic ends the attempt on *ep when a panic unwinds forward between
// the endpoint's Begin and End: otherwise least-connections would count it
// busy for good. The attempt counts as neither success nor failure.
func endOnPanic(ep **balance.Endpoint) {
	if *ep != nil {
		(*ep).Abandon()
	}
}

// respond passes an endpoint's answer to the client, and reports whether a
// failure on the way is the endpoint's. When response bytes already
// reached the client, the only honest signal left of a failure is to break
// its connection (or reset its stream).
func (s *Server) respond(w http.ResponseWriter, r *http.Request, resp *http.Response, pool *balance.Pool, a *table.Action, ep *balance.Endpoint, out *outgoing, ex *exchange) bool {
	s.setAffinity(w, pool, a, ex.side, ep, r)
	if a.ErrorPages != nil && s.interceptResponse(w, r, resp, a, pool.Backend(), ex) {
		return false
	}
	ex.status = resp.StatusCode
	if resp.StatusCode == http.StatusSwitchingProtocols {
		ex.bytes, ex.err = s.tunnel(w, resp, backendTimeouts(pool.Backend()).read)
	} else {
		ex.bytes, ex.err = s.copyResponse(w, resp, a)
	}
	switch {
	case ex.err == nil:
		return false
	case errors.Is(ex.err, errUnsafeHead):
		// Nothing was sent: a response edit from configuration.
		s.log.Error("response head not sent", zap.String("backend", pool.Backend().Name), zap.Error(ex.err))
		ex.status, ex.reason = s.answer(w, http.StatusInternalServerError, "invalid response head"), reasonUnsafeHead
		return false
	case s.clientFault(nil, r, out, ex.err, ex):
		ex.abort = !errors.Is(ex.err, errClientGone)
		return false
	}
	ex.abort = true
	return true
}

// clientFault reports whether an attempt failed because of the client (its
// body could not be read, or it went away) and, when w is set, answers it:
// 400, 408 or 413 for the body (written even if the client seems gone: a
// client that half-closed its connection still reads), and for a client
// that left, nothing (net/http would otherwise send an empty 200). Neither
// is the endpoint's fault, nor retried.
func (s *Server) clientFault(w http.ResponseWriter, r *http.Request, out *outgoing, err error, ex *exchange) bool {
	berr := out.cb.failed()
	gone := errors.Is(err, errClientGone) || r.Context().Err() != nil
	if berr == nil && !gone {
		return false
	}
	if w == nil {
		return true
	}
	ex.err = err
	if berr != nil {
		ex.err, ex.reason = berr, reasonClientBody
	}
	if berr != nil {
		ex.status = s.answer(w, clientBodyStatus(berr), "cannot read the request body")
		return true
	}
	ex.status, ex.abort = statusClientClosed, true
	return true
}

// failed answers a request that no endpoint answered (or, with no
// attempt, a backend without endpoints), with the route's error page when
// it lists the status.
func (s *Server) failed(w http.ResponseWriter, r *http.Request, a *table.Action, b *table.Backend, ex *exchange) {
	status, msg := http.StatusBadGateway, "upstream failed"
	switch {
	case ex.attempts == 0 && b.UnavailableStatus != 0:
		status, msg = b.UnavailableStatus, "backend unavailable"
	case ex.attempts == 0:
		status, msg = http.StatusServiceUnavailable, "no endpoint available"
	case isTimeout(ex.err) && !isDial(ex.err):
		status, msg = http.StatusGatewayTimeout, "upstream timed out"
	}
	if a.ErrorPages != nil && s.errorPage(w, r, a, b, status, ex) {
		return
	}
	ex.status = s.answer(w, status, msg)
}

// checkResponse refuses what no endpoint may answer: a 101 to a request
// that Weir did not send as an upgrade to that protocol (tunnelling it
// would let later bytes bypass routing), and a head with a byte that would
// split it on the way to the client (HTTP/2 and TLS transports parse heads
// more leniently than Weir's own HTTP/1.1 reader), and a status code that
// is not three digits.
func checkResponse(resp *http.Response, out *outgoing) error {
	err := checkHeaders(resp.Header)
	if err == nil && (resp.StatusCode < 100 || resp.StatusCode > 999) {
		// x/net's HTTP/2 transport takes any number as :status, and
		// net/http's HTTP/1.1 one "099": a client would get a 200 (Weir's
		// HTTP/1.x server) or a panic of the HTTP/2 server's WriteHeader.
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	if err == nil && resp.StatusCode == http.StatusSwitchingProtocols &&
		(out.upgrade == "" || !wire.HasToken(resp.Header["Upgrade"], out.upgrade)) {
		err = fmt.Errorf("101 Switching Protocols to a request for Upgrade %q", out.upgrade)
	}
	if err != nil {
		resp.Body.Close()
		return fmt.Errorf("%w: %w", upstream.ErrBadResponse, err)
	}
	return nil
}

// pick chooses an endpoint: the pinned one when affinity names one that is
// available, otherwise the balancer's choice excluding endpoints tried.
func (s *Server) pick(r *http.Request, pool *balance.Pool, pinned string, info *requestInfo, tried []*balance.Endpoint) *balance.Endpoint {
	if pinned != "" {
		if ep := pool.Sticky(pinned); ep != nil {
			return ep
		}
	}
	ep := pool.Pick(r, info.clientIP, tried)
	for _, t := range tried {
		if ep == t {
			return nil // only endpoints already tried are left
		}
	}
	return ep
}

// statusClientClosed is nginx's 499: logged and counted, never sent.
const statusClientClosed = 499

// retryable reports whether a failed attempt may be repeated on another
// endpoint. A connection that was never made can always be retried; one that
// failed after the request was sent only for idempotent, bodiless requests.
func retryable(err error, out *outgoing, on table.RetryOn) bool {
	if isDial(err) {
		return on&(table.RetryError|table.RetryTimeout) != 0
	}
	if !out.replayable() || (!upstream.Idempotent(out.method) && on&table.RetryNonIdempotent == 0) {
		return false
	}
	if isTimeout(err) {
		return on&table.RetryTimeout != 0
	}
	return on&table.RetryError != 0
}

func retryStatus(code int, out *outgoing, on table.RetryOn) bool {
	if !out.replayable() || (!upstream.Idempotent(out.method) && on&table.RetryNonIdempotent == 0) {
		return false
	}
	var bit table.RetryOn
	switch code {
	case 500:
		bit = table.Retry500
	case 502:
		bit = table.Retry502
	case 503:
		bit = table.Retry503
	case 504:
		bit = table.Retry504
	case 403:
		bit = table.Retry403
	case 404:
		bit = table.Retry404
	case 429:
		bit = table.Retry429
	}
	return bit != 0 && on&bit != 0
}

func isDial(err error) bool {
	var de *upstream.DialError
	return errors.As(err, &de)
}
