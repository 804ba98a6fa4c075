package proxy

import (
	"bufio"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpguts"

	"weir.dev/weir/proxy/wire"
)

// The request-head parser of Weir's HTTP/1.x server. It accepts a subset of
// what net/http's http.ReadRequest accepts, and makes the same request of
// it (FuzzRequestHeadDifferential): every line must end in CRLF, a folded
// line (obs-fold) is refused, only HTTP/1.0 and HTTP/1.1 are spoken, the
// target must pass validTarget, names must be tokens and values field
// values, one Host, Content-Length lines all the same digits, and
// Transfer-Encoding exactly "chunked" (HTTP/1.1 only). The framing is
// net/http's: with both Transfer-Encoding and Content-Length, the body is
// chunked and the length dropped (the handler then closes the connection
// after its answer, see ServeHTTP).

// reqHead is the framing and connection handling of one request.
type reqHead struct {
	method, target string
	minor          int // HTTP/1.minor
	host           string
	contentLength  int64 // -1: chunked
	close          bool  // Connection: close, or HTTP/1.0 without keep-alive
}

// headError is a refused head: the status to answer with and why.
type headError struct {
	status int
	msg    string
}

func (e *headError) Error() string { return e.msg }

func badHead(msg string) *headError { return &headError{http.StatusBadRequest, msg} }

var (
	errHeadBareLF    = badHead("line not ended by CRLF")
	errHeadFold      = badHead("obsolete line folding")
	errHeadName      = badHead("invalid header name")
	errHeadValue     = badHead("invalid header value")
	errHeadLine      = badHead("malformed request line")
	errHeadMethod    = badHead("invalid method")
	errHeadTarget    = badHead("invalid request target")
	errHeadHost      = badHead("missing, repeated or invalid Host header")
	errHeadLength    = badHead("invalid Content-Length")
	errHeadTE        = badHead("Transfer-Encoding in an HTTP/1.0 request")
	errHeadVersion   = &headError{http.StatusHTTPVersionNotSupported, "unsupported protocol version"}
	errHeadCoding    = &headError{http.StatusNotImplemented, "unsupported transfer encoding"}
	errHeadOversized = &headError{http.StatusRequestHeaderFieldsTooLarge, "request header fields too large"}
)

// readRequestHead reads a head from br into buf, at most limit bytes, and
// returns it without its final empty line. Each line must end in CRLF.
func readRequestHead(br *bufio.Reader, buf []byte, limit int) ([]byte, error) {
	buf = buf[:0]
	start := 0 // of the current line in buf
	for {
		frag, err := br.ReadSlice('\n')
		buf = append(buf, frag...)
		if len(buf) > limit {
			return buf, errHeadOversized
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return buf, err
		}
		line := buf[start:]
		if len(line) < 2 || line[len(line)-2] != '\r' {
			return buf, errHeadBareLF
		}
		if len(line) == 2 {
			if start == 0 {
				return buf, errHeadLine // an empty request line
			}
			return buf[:start], nil
		}
		start = len(buf)
	}
}

// parseRequestHead parses head (request line and header lines, each ending
// in CRLF) into rh and h, which must be empty. The header values are kept
// in buf when it has room for them all (no allocation), else in a new slice.
func parseRequestHead(head string, h http.Header, buf []string) (reqHead, error) {
	var rh reqHead
	line, rest, _ := strings.Cut(head, "\r\n")
	if err := parseRequestLine(&rh, line); err != nil {
		return rh, err
	}
	vals := buf[:0]
	if n := strings.Count(rest, "\r\n"); cap(vals) < n {
		vals = make([]string, 0, n)
	}
	hosts := 0
	for rest != "" {
		line, rest, _ = strings.Cut(rest, "\r\n")
		if wire.IsOWS(line[0]) {
			return rh, errHeadFold
		}
		i := strings.IndexByte(line, ':')
		if i <= 0 || !wire.ValidToken(line[:i]) {
			return rh, errHeadName
		}
		v := wire.TrimOWS(line[i+1:])
		if !wire.ValidFieldValue(v) {
			return rh, errHeadValue
		}
		key := wire.CanonicalKey(line[:i])
		if key == "Host" {
			hosts++
			rh.host = v
			continue
		}
		if prev := h[key]; prev != nil {
			h[key] = append(prev, v)
			continue
		}
		vals = append(vals, v)
		h[key] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	if hosts > 1 || hosts == 0 && rh.minor == 1 && rh.method != http.MethodConnect ||
		hosts == 1 && !httpguts.ValidHostHeader(rh.host) {
		return rh, errHeadHost
	}
	conn := h["Connection"]
	rh.close = wire.HasToken(conn, "close") || rh.minor == 0 && !wire.HasToken(conn, "keep-alive")
	return rh, requestFraming(&rh, h)
}

// parseRequestLine reads "METHOD target HTTP/1.x".
func parseRequestLine(rh *reqHead, line string) error {
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 {
		return errHeadLine
	}
	switch proto {
	case "HTTP/1.1":
		rh.minor = 1
	case "HTTP/1.0":
	default:
		if len(proto) == 8 && strings.HasPrefix(proto, "HTTP/") && proto[6] == '.' && isDigit(proto[5]) && isDigit(proto[7]) {
			return errHeadVersion
		}
		return errHeadLine
	}
	if !wire.ValidToken(method) {
		return errHeadMethod
	}
	rh.method, rh.target = method, target
	if method == http.MethodConnect && !strings.HasPrefix(target, "/") {
		// The authority-form: the handler refuses CONNECT (405).
		if target == "" || !validTargetBytes(target) || strings.ContainsAny(target, "/?") {
			return errHeadTarget
		}
		return nil
	}
	if !validTarget(method, target, 1) {
		return errHeadTarget
	}
	return nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// requestFraming decides how the body is delimited (RFC 9112 section 6.3)
// as net/http does, and removes the framing headers net/http removes.
func requestFraming(rh *reqHead, h http.Header) error {
	cl := h["Content-Length"]
	n := int64(0)
	if len(cl) > 0 {
		var err error
		if n, err = wire.ContentLength(cl); err != nil {
			return errHeadLength
		}
		h["Content-Length"] = cl[:1]
	}
	te, chunked := h["Transfer-Encoding"]
	if !chunked {
		rh.contentLength = n
		return nil
	}
	delete(h, "Transfer-Encoding")
	switch {
	case rh.minor == 0:
		return errHeadTE
	case len(te) != 1 || !strings.EqualFold(te[0], "chunked"):
		return errHeadCoding
	}
	delete(h, "Content-Length")
	rh.contentLength = -1
	return nil
}

// setRequestURL sets *u to the URL of a parsed request line, as
// requestURL makes it, without allocating one for the common targets: an
// origin-form path of characters that need no escaping, and any query.
func setRequestURL(u *url.URL, rh *reqHead) error {
	if path, query, ok := plainTarget(rh.target); ok {
		// url.ParseRequestURI: a lone "?" at the end forces an empty query.
		*u = url.URL{Path: path, RawQuery: query, ForceQuery: query == "" && len(path) < len(rh.target)}
		return nil
	}
	p, err := requestURL(rh)
	if err != nil {
		return err
	}
	*u = *p
	return nil
}

// plainTarget splits an origin-form target whose path (up to the first
// "?") has only characters that a URL path keeps as they are (so that
// url.ParseRequestURI leaves RawPath empty) and whose query has no control
// character; ok is false for every other target.
func plainTarget(t string) (path, query string, ok bool) {
	if t == "" || t[0] != '/' {
		return "", "", false
	}
	i := 0
	for ; i < len(t) && t[i] != '?'; i++ {
		if !plainPathByte[t[i]] {
			return "", "", false
		}
	}
	if i == len(t) {
		return t, "", true
	}
	query = t[i+1:]
	for j := 0; j < len(query); j++ {
		if c := query[j]; c < ' ' || c == 0x7f {
			return "", "", false
		}
	}
	return t[:i], query, true
}

// plainPathByte holds the bytes of a path that url.URL's escaping of a
// path leaves alone: letters, digits, "-._~" and "/$&+,:;=@".
var plainPathByte = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-._~/$&+,:;=@", byte(c)) >= 0
	}
	return t
}()

// requestURL makes the URL of a parsed request line as net/http does: an
// authority-form CONNECT target becomes the URL's host.
func requestURL(rh *reqHead) (*url.URL, error) {
	if rh.method == http.MethodConnect && !strings.HasPrefix(rh.target, "/") {
		u, err := url.ParseRequestURI("http://" + rh.target)
		if err != nil {
			return nil, err
		}
		u.Scheme = ""
		return u, nil
	}
	return url.ParseRequestURI(rh.target)
}
