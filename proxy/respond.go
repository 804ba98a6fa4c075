package proxy

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"go.uber.org/zap"

	"weir.dev/weir/proxy/table"
	"weir.dev/weir/proxy/upstream"
	"weir.dev/weir/proxy/wire"
)

// answer writes one of Weir's own short responses and returns its status.
func (s *Server) answer(w http.ResponseWriter, status int, msg string) int {
	h := w.Header()
	h["Content-Type"] = []string{"text/plain; charset=utf-8"}
	h["X-Content-Type-Options"] = []string{"nosniff"}
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
	return status
}

// sslRedirect sends a plain-HTTP request to the same URL over HTTPS (308
// keeps the method and body, as ingress-nginx does).
func sslRedirect(w http.ResponseWriter, r *http.Request) int {
	host := r.Host
	if h, _, ok := strings.Cut(host, ":"); ok && !strings.HasPrefix(host, "[") {
		host = h
	}
	http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
	return http.StatusPermanentRedirect
}

// redirect answers a route's redirect (Gateway API RequestRedirect, or an
// ingress-nginx literal redirect URL).
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, rt *table.Route, rd *table.Redirect) int {
	status := rd.Status
	if status == 0 {
		status = http.StatusFound
	}
	if rd.URL != "" {
		if !s.setLocation(w, rd.URL) {
			return http.StatusInternalServerError
		}
		w.WriteHeader(status)
		return status
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if rd.Scheme != "" {
		scheme = rd.Scheme
	}
	host, port := r.Host, ""
	if h, p, ok := strings.Cut(host, ":"); ok && !strings.HasPrefix(host, "[") {
		host, port = h, p
	}
	if rd.Host != "" {
		host = rd.Host
	}
	if rd.Port != 0 {
		port = strconv.Itoa(rd.Port)
	} else if rd.Scheme != "" {
		port = "" // a scheme change drops the old port unless one is given
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	path := r.URL.EscapedPath()
	switch {
	case rd.Path != "":
		path = rd.Path
	case rd.PrefixPath != "" && rt != nil:
		// The path the router matched, as URLRewrite does: the raw path's
		// ".." and "//" segments would otherwise reach the Location.
		path = replacePrefix(matchedPath(r), rt.Path.Value, rd.PrefixPath)
	}
	loc := scheme + "://" + host
	if port != "" {
		loc += ":" + port
	}
	loc += path
	if r.URL.RawQuery != "" {
		loc += "?" + r.URL.RawQuery
	}
	if !s.setLocation(w, loc) {
		return http.StatusInternalServerError
	}
	w.WriteHeader(status)
	return status
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func getBuffer() *[]byte  { return bufPool.Get().(*[]byte) }
func putBuffer(b *[]byte) { bufPool.Put(b) }

// streamsAtOnce says whether a response of unknown length is a stream whose
// head the client needs before any body arrives: server-sent events, gRPC,
// and responses whose backend asks for no buffering with nginx's
// X-Accel-Buffering: no.
func streamsAtOnce(h http.Header) bool {
	ct := h.Get("Content-Type")
	return strings.HasPrefix(ct, "text/event-stream") || strings.HasPrefix(ct, "application/grpc") ||
		strings.EqualFold(h.Get("X-Accel-Buffering"), "no")
}

// mergeVary returns the endpoint's Vary values followed by those of Weir's
// (ours) that the endpoint did not name.
func mergeVary(endpoint, ours []string) []string {
	for t := range wire.Tokens(ours) {
		if t != "" {
			endpoint = wire.AddVary(endpoint, t)
		}
	}
	return endpoint
}

// errClientGone marks a copy that stopped because the client went away;
// nothing more can be told to it.
var errClientGone = errors.New("client went away")

// copyResponse writes the endpoint's answer to the client: headers less the
// hop-by-hop ones, the body (flushed as it arrives when its length is not
// known in advance, so server-sent events and gRPC streams flow), then
// trailers.
func (s *Server) copyResponse(w http.ResponseWriter, resp *http.Response, a *table.Action) (int64, error) {
	defer resp.Body.Close()
	if err := checkEdits(a.ResponseHeaders); err != nil {
		return 0, err
	}
	dst := w.Header()
	conn := resp.Header["Connection"]
	for k, vs := range resp.Header {
		if isRespHopHeader(k) || connectionListed(conn, k) || (a.CORS != nil && a.CORS.OwnsHeaders() && isCORSHeader(k)) {
			continue
		}
		if k == "Vary" && dst["Vary"] != nil {
			// Weir's own (a CORS policy's Origin) and the endpoint's both
			// say what the answer depends on: a cache needs them all.
			vs = mergeVary(vs, dst["Vary"])
		}
		dst[k] = vs
	}
	applyEdits(dst, a.ResponseHeaders)
	if resp.ContentLength >= 0 && dst["Content-Length"] == nil {
		dst["Content-Length"] = []string{strconv.FormatInt(resp.ContentLength, 10)}
	}
	w.WriteHeader(resp.StatusCode)
	if resp.ContentLength < 0 && streamsAtOnce(resp.Header) {
		// The client needs the head before the first event, which may be
		// long in coming; otherwise the head leaves with the first bytes.
		if err := http.NewResponseController(w).Flush(); err != nil {
			return 0, errClientGone
		}
	}
	n, spliced, err := spliceBody(w, resp)
	if !spliced {
		n, err = copyBody(w, resp.Body, resp.ContentLength < 0)
	}
	if err != nil {
		return n, err
	}
	// Trailers are known only now (gRPC sends grpc-status here); the
	// prefix tells net/http to send them after the body.
	if err := checkHeaders(resp.Trailer); err != nil {
		return n, fmt.Errorf("%w: trailers: %w", upstream.ErrBadResponse, err)
	}
	for k, vs := range resp.Trailer {
		if isHopHeader(k) {
			continue // framing and routing fields are never trailers (RFC 9110 section 6.5.1)
		}
		dst[http.TrailerPrefix+k] = vs
	}
	return n, nil
}

// checkEdits checks the header edits of a route before they are written.
func checkEdits(e table.HeaderEdits) error {
	for _, kvs := range [2][]table.Header{e.Set, e.Add} {
		for _, kv := range kvs {
			if !wire.ValidToken(kv.Name) || !wire.ValidFieldValue(kv.Value) {
				return fmt.Errorf("%w: header edit %q", errUnsafeHead, wire.Truncate([]byte(kv.Name)))
			}
		}
	}
	return nil
}

// setLocation sets the Location of a redirect, unless the URL (from
// configuration and the request) carries a byte a head may not.
func (s *Server) setLocation(w http.ResponseWriter, loc string) bool {
	if !wire.ValidFieldValue(loc) {
		s.log.Error("redirect not sent", zap.Error(fmt.Errorf("%w: Location %q", errUnsafeHead, wire.Truncate([]byte(loc)))))
		s.answer(w, http.StatusInternalServerError, "invalid redirect")
		return false
	}
	w.Header()["Location"] = []string{loc}
	return true
}

// isRespHopHeader reports the headers not passed from an endpoint's
// response to the client.
func isRespHopHeader(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

func copyBody(w http.ResponseWriter, body io.Reader, flush bool) (int64, error) {
	buf := getBuffer()
	defer putBuffer(buf)
	var total int64
	rc := http.NewResponseController(w)
	for {
		n, rerr := body.Read(*buf)
		if n > 0 {
			wn, werr := w.Write((*buf)[:n])
			total += int64(wn)
			if werr != nil {
				return total, errClientGone
			}
			if flush {
				if err := rc.Flush(); err != nil {
					return total, errClientGone
				}
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}
