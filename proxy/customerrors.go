package proxy

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"weir.dev/weir/proxy/balance"
	"weir.dev/weir/proxy/table"
)

// ingress-nginx's custom-http-errors and default-backend (table.ErrorPages).
// A listed status, whether an endpoint answered it or Weir would (502,
// 503, 504), is answered with the error backend's page: a GET (HEAD stays
// HEAD) of the same URI without body, with the X-Code, X-Format,
// X-Original-URI, X-Namespace, X-Ingress-Name, X-Service-Name,
// X-Service-Port and X-Request-ID headers. The client gets the original
// status with the page's headers and body. When the error backend cannot
// answer, the client gets what it would have got without it. Routes
// without ErrorPages pay one nil check.

// plainAction forwards a request without any route edit.
var plainAction = &table.Action{}

// errorPage answers with the error backend's page for code and reports
// whether it did; b is the backend the request was meant for.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, a *table.Action, b *table.Backend, code int, ex *exchange) bool {
	e := a.ErrorPages
	if e == nil || e.Backend == nil || !e.Intercepts(code) {
		return false
	}
	resp := s.fetchErrorPage(r, e, b, code, ex)
	if resp == nil {
		return false
	}
	resp.StatusCode = code
	ex.status = code
	ex.bytes, ex.err = s.copyResponse(w, resp, a)
	switch {
	case ex.err == nil:
	case errors.Is(ex.err, errUnsafeHead):
		s.log.Error("response head not sent", zap.String("backend", e.Backend.Name), zap.Error(ex.err))
		ex.status, ex.reason = s.answer(w, http.StatusInternalServerError, "invalid response head"), reasonUnsafeHead
	default:
		ex.abort = true // the page may be cut: only a broken connection says so
	}
	return true
}

// fetchErrorPage asks the error backend for the page; nil when it could not
// answer (no endpoint, a failure, or an answer Weir refuses).
func (s *Server) fetchErrorPage(r *http.Request, e *table.ErrorPages, b *table.Backend, code int, ex *exchange) *http.Response {
	pool := ex.snap.pools.At(e.Backend.Index())
	ep := pool.Pick(r, ex.info.clientIP, nil)
	if ep == nil {
		return nil
	}
	out := s.buildOutgoing(mirrorWriter{}, r, nil, plainAction, &ex.info)
	out.method, out.body, out.contentLength, out.upgrade = http.MethodGet, nil, 0, ""
	if r.Method == http.MethodHead {
		out.method = http.MethodHead
	}
	h := out.headers()
	h["X-Code"] = []string{strconv.Itoa(code)}
	if accept := r.Header["Accept"]; len(accept) > 0 {
		h["X-Format"] = []string{accept[0]} // a copy: see outgoing.headers
	}
	h["X-Original-Uri"] = []string{r.RequestURI}
	h["X-Namespace"] = []string{e.Namespace}
	h["X-Ingress-Name"] = []string{e.Ingress}
	h["X-Service-Name"] = []string{b.Service}
	h["X-Service-Port"] = []string{b.Port}
	if err := checkOutgoing(out); err != nil {
		s.log.Error("error page request not sent", zap.String("backend", e.Backend.Name), zap.Error(err))
		return nil
	}
	out.addr, out.gone = ep.Address(), ep.Gone()
	to := backendTimeouts(e.Backend)
	ep.Begin()
	t0 := time.Now()
	resp, err := s.upstreams.roundTripBackend(r.Context(), e.Backend, out, &to)
	if err == nil {
		err = checkResponse(resp, out)
	}
	// A client that left is not the error backend's failure (forward's
	// clientFault): anyone could otherwise eject it by hanging up.
	gone := errors.Is(err, errClientGone) || r.Context().Err() != nil
	ep.End(balance.Outcome{Latency: time.Since(t0), Failed: err != nil && !gone})
	if err != nil {
		s.log.Debug("error page failed", zap.String("backend", e.Backend.Name), zap.Error(err))
		return nil
	}
	if resp.StatusCode < 200 {
		resp.Body.Close()
		return nil
	}
	return resp
}

// interceptResponse replaces an endpoint's answer with a listed status by
// the error page; it reports whether it did (resp is then closed).
func (s *Server) interceptResponse(w http.ResponseWriter, r *http.Request, resp *http.Response, a *table.Action, b *table.Backend, ex *exchange) bool {
	if resp.StatusCode == http.StatusSwitchingProtocols || !a.ErrorPages.Intercepts(resp.StatusCode) {
		return false
	}
	if !s.errorPage(w, r, a, b, resp.StatusCode, ex) {
		return false
	}
	resp.Body.Close()
	return true
}

// noEndpoint answers a request whose backend has no endpoint: the
// default-backend annotation's Service takes it, else a listed 503 gets
// the error page, else Weir answers.
func (s *Server) noEndpoint(w http.ResponseWriter, r *http.Request, a *table.Action, b *table.Backend, ex *exchange) {
	if e := a.ErrorPages; e != nil && e.Unavailable && e.Backend != nil && e.Backend != b {
		pool := ex.snap.pools.At(e.Backend.Index())
		if len(pool.Endpoints()) > 0 {
			ex.backend = e.Backend
			s.forward(w, r, pool, a, "", ex)
			return
		}
	}
	s.failed(w, r, a, b, ex)
}

// targetMirror points a copy at an ingress-nginx mirror-target: its
// request target and Host header. It reports false (nothing is sent) when
// the result is not a valid head.
func (s *Server) targetMirror(out *outgoing, t *table.MirrorTarget) bool {
	out.uri = t.RequestURI(out.req.RequestURI)
	if t.Host != "" {
		out.host = t.Host
	}
	if t.NoBody {
		out.body, out.contentLength = nil, 0
	}
	return checkOutgoing(out) == nil
}
