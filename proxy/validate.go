package proxy

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"

	"weir.dev/weir/proxy/wire"
)

// What Weir accepts from a client and what it writes on a connection. The
// request head is checked once when it arrives (checkRequest), whatever the
// protocol, because HTTP/2 carries the method and target as header fields
// that the HTTP/1.1 request line to the endpoint would otherwise take as
// they come; every head Weir writes is checked again just before it goes
// out (checkOutgoing, checkHeaders), so a value from configuration (an
// annotation, a rewrite) can never split a head either.

// validTarget reports whether target may follow method in a request line
// (RFC 9112 section 3.2): origin-form ("/path?query"), the asterisk-form
// "*" of a server-wide OPTIONS, or, from an HTTP/1.x client only, the
// absolute-form "http://host/path" that proxies send.
//
// Within the target, bytes that would end or split the request line
// (controls, space, DEL) and "#" (a fragment is never sent) are refused,
// and "%" in the path must start an escape. Unescaped bytes that RFC 3986
// calls unwise ("{", "|", "^", UTF-8) are accepted, as nginx accepts them:
// browsers send them in query strings, and they cannot change how a
// backend splits the line.
func validTarget(method, target string, protoMajor int) bool {
	switch {
	case target == "*":
		return method == http.MethodOptions
	case strings.HasPrefix(target, "/"):
		return validTargetBytes(target)
	case protoMajor == 1 && hasHTTPScheme(target):
		return validTargetBytes(target)
	}
	return false
}

// hasHTTPScheme reports "http://" or "https://" followed by an authority
// that names a host: RFC 9110 section 4.2.1 has a recipient reject an http
// URI with an empty host ("http:///x", "http://?x", "http://:80/x" are
// refused with 400), and section 4.2.4 has it treat userinfo as an error
// ("http://@/x", "http://user@host/x"), as nginx does.
func hasHTTPScheme(s string) bool {
	n := 0
	switch {
	case len(s) > 7 && strings.EqualFold(s[:7], "http://"):
		n = 7
	case len(s) > 8 && strings.EqualFold(s[:8], "https://"):
		n = 8
	default:
		return false
	}
	authority := s[n:]
	if i := strings.IndexAny(authority, "/?"); i >= 0 {
		authority = authority[:i]
	}
	return authority != "" && authority[0] != ':' && strings.IndexByte(authority, '@') < 0
}

func validTargetBytes(s string) bool {
	inQuery := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c <= ' ' || c == 0x7f || c == '#':
			return false
		case c == '?':
			inQuery = true
		case c == '%' && !inQuery:
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// checkRequest validates a client's request head as RFC 9110, 9112 and
// 9113 (section 8.2) require, and returns the status to refuse it with and
// why, or 0. net/http's HTTP/1.1 parser already refuses most of this; its
// HTTP/2 server does not check the method and target, which become the
// request line of the HTTP/1.1 request to the endpoint.
func checkRequest(r *http.Request) (int, string) {
	if !wire.ValidToken(r.Method) {
		return http.StatusBadRequest, "invalid method"
	}
	if r.Method == http.MethodConnect {
		return http.StatusMethodNotAllowed, "CONNECT is not supported"
	}
	if !validTarget(r.Method, r.RequestURI, r.ProtoMajor) {
		return http.StatusBadRequest, "invalid request target"
	}
	if !httpguts.ValidHostHeader(r.Host) {
		return http.StatusBadRequest, "invalid host"
	}
	for k, vs := range r.Header {
		if !wire.ValidToken(k) {
			return http.StatusBadRequest, "invalid header name"
		}
		for _, v := range vs {
			// RFC 9113 section 8.2.1: no leading or trailing whitespace
			// (HTTP/1.1 parsers strip it, HTTP/2 carries it).
			if !wire.ValidFieldValue(v) || v != "" && (wire.IsOWS(v[0]) || wire.IsOWS(v[len(v)-1])) {
				return http.StatusBadRequest, "invalid header value"
			}
		}
	}
	return 0, ""
}

// errUnsafeHead marks a head that Weir refused to write because a value in
// it would end a line or is not allowed there.
var errUnsafeHead = errors.New("refused to write an unsafe head")

// checkHeaders checks every name and value of h before it is written.
func checkHeaders(h http.Header) error {
	for k, vs := range h {
		if err := checkField(k, vs); err != nil {
			return err
		}
	}
	return nil
}

func checkField(k string, vs []string) error {
	if !wire.ValidToken(k) {
		return fmt.Errorf("%w: header name %q", errUnsafeHead, wire.Truncate([]byte(k)))
	}
	for _, v := range vs {
		if !wire.ValidFieldValue(v) {
			return fmt.Errorf("%w: value of header %s", errUnsafeHead, k)
		}
	}
	return nil
}

// checkOutgoing checks the request line, the Host and every header that
// writeRequest (or an HTTP/2 transport) would send for out.
func checkOutgoing(out *outgoing) error {
	switch {
	case !wire.ValidToken(out.method):
		return unsafeHead("method", out.method)
	case !validTarget(out.method, out.uri, 1):
		return unsafeHead("request target", out.uri)
	case !httpguts.ValidHostHeader(out.host):
		return unsafeHead("host", out.host)
	case out.upgrade != "" && !wire.ValidToken(out.upgrade):
		return unsafeHead("upgrade", out.upgrade)
	case out.header != nil:
		return checkHeaders(out.header)
	}
	conn := out.req.Header["Connection"]
	for k, vs := range out.req.Header {
		if out.skipHeader(k, conn) {
			continue
		}
		if err := checkField(k, vs); err != nil {
			return err
		}
	}
	return checkForwarded(out)
}

// checkForwarded checks the values of the forwarding headers Weir adds.
// A function of its own, like unsafeHead: the frames of the request path
// stay small (docs/performance.md, "A request path within a stream's
// first stack").
//
//go:noinline
func checkForwarded(out *outgoing) error {
	var kv [6][2]string
	n := out.forwarded(&kv)
	for _, p := range kv[:n] {
		if !wire.ValidFieldValue(p[1]) {
			return fmt.Errorf("%w: value of header %s", errUnsafeHead, p[0])
		}
	}
	return nil
}

// unsafeHead is the error for a part of the request head (what) whose
// value v may not be written.
//
//go:noinline
func unsafeHead(what, v string) error {
	return fmt.Errorf("%w: %s %q", errUnsafeHead, what, wire.Truncate([]byte(v)))
}
