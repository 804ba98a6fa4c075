package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strings"
)

// maxResponseHead bounds an endpoint's status line and headers.
const maxResponseHead = 64 << 10

var (
	errHeadTooLarge = errors.New("response headers too large")
	errBadResponse  = errors.New("malformed response")
)

// respHead is the framing of one HTTP/1.x response.
type respHead struct {
	code          int
	minor         int // 0 or 1 of HTTP/1.x
	contentLength int64
	chunked       bool
	untilClose    bool
	close         bool
	noBody        bool // HEAD, 1xx, 204, 304: whatever Content-Length says
}

// readResponseHead parses a status line and headers from br into h, which
// must be empty. Header names are canonicalised with a table of common names
// first, so the usual response allocates only its values.
func readResponseHead(br *bufio.Reader, h http.Header) (respHead, error) {
	// The usual head is already whole in the buffer: parse it from one
	// string, so every header value is a substring of it (one allocation).
	if buf, _ := br.Peek(br.Buffered()); len(buf) > 0 {
		if end := bytes.Index(buf, []byte("\r\n\r\n")); end >= 0 &&
			bytes.Count(buf[:end+2], []byte("\n")) == bytes.Count(buf[:end+2], []byte("\r\n")) {
			head := string(buf[:end+2])
			br.Discard(end + 4)
			return parseHead(head, h)
		}
	}
	return readHeadLines(br, h)
}

// parseHead parses a whole head (status line and header lines, each ending
// in CRLF) held in one string.
func parseHead(head string, h http.Header) (respHead, error) {
	var rh respHead
	line, rest, _ := strings.Cut(head, "\r\n")
	if err := parseStatusLine(&rh, line); err != nil {
		return rh, err
	}
	n := strings.Count(rest, "\r\n")
	vals := make([]string, 0, n)
	for rest != "" {
		line, rest, _ = strings.Cut(rest, "\r\n")
		key, v, err := splitHeaderLine(line)
		if err != nil {
			return rh, err
		}
		if prev := h[key]; prev != nil {
			h[key] = append(prev, v)
			continue
		}
		vals = append(vals, v)
		h[key] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	return rh, nil
}

// parseStatusLine reads "HTTP/1.x NNN reason" (RFC 9112 section 4): the
// version 1.0 or 1.1, three digits, and a reason phrase without controls.
func parseStatusLine(rh *respHead, line string) error {
	if len(line) < 12 || !strings.HasPrefix(line, "HTTP/1.") || line[7] != '0' && line[7] != '1' ||
		line[8] != ' ' || !validFieldValue(line[12:]) {
		return fmt.Errorf("%w: status line %q", errBadResponse, truncate([]byte(line)))
	}
	rh.minor = int(line[7] - '0')
	code := 0
	for i := 9; i < 12; i++ {
		c := line[i]
		if c < '0' || c > '9' {
			return fmt.Errorf("%w: status line %q", errBadResponse, truncate([]byte(line)))
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 || (len(line) > 12 && line[12] != ' ') {
		return fmt.Errorf("%w: status line %q", errBadResponse, truncate([]byte(line)))
	}
	rh.code = code
	return nil
}

// readHeadLines parses a head that is not yet whole in the buffer, line by
// line.
func readHeadLines(br *bufio.Reader, h http.Header) (respHead, error) {
	var rh respHead
	budget := maxResponseHead
	line, err := readLine(br, &budget)
	if err != nil {
		return rh, err
	}
	if err := parseStatusLine(&rh, string(line)); err != nil {
		return rh, err
	}
	for {
		line, err := readLine(br, &budget)
		if err != nil {
			return rh, err
		}
		if len(line) == 0 {
			return rh, nil
		}
		key, value, err := splitHeaderLine(string(line))
		if err != nil {
			return rh, err
		}
		h[key] = append(h[key], value)
	}
}

// splitHeaderLine splits "Name: value" into the canonical name and the
// value without its surrounding spaces and tabs; the head parsers and the
// trailer reader use it, so they cannot drift apart. The name must be a
// token (no space before the colon, no folded line) and the value a field
// value: a CR, LF or NUL in it is a malformed response, never passed on.
func splitHeaderLine(line string) (string, string, error) {
	i := strings.IndexByte(line, ':')
	if i <= 0 || !validToken(line[:i]) || !validFieldValue(line[i+1:]) {
		return "", "", fmt.Errorf("%w: header line %q", errBadResponse, truncate([]byte(line)))
	}
	return canonicalKey([]byte(line[:i])), trimOWS(line[i+1:]), nil
}

// trimOWS removes the spaces and tabs around a field value (RFC 9110
// section 5.5), and nothing else.
func trimOWS(s string) string {
	for s != "" && isOWS(s[0]) {
		s = s[1:]
	}
	for s != "" && isOWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// readLine returns one line without its CRLF, charging it to budget.
func readLine(br *bufio.Reader, budget *int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, errHeadTooLarge
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if *budget -= len(line); *budget < 0 {
		return nil, errHeadTooLarge
	}
	// A bare LF ends no line here: a backend that echoes a value with one
	// means one field, not two (RFC 9112 section 2.2 lets a recipient
	// choose; Weir does not guess).
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("%w: line %q does not end in CRLF", errBadResponse, truncate(line))
	}
	return line[:len(line)-2], nil
}

func truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// commonKeys maps the header names endpoints send most, in the spellings
// they use, to their canonical form; a lookup with string(b) does not
// allocate.
var commonKeys = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{"Accept-Ranges", "Age", "Cache-Control", "Connection", "Content-Encoding",
		"Content-Language", "Content-Length", "Content-Type", "Date", "Etag", "Expires", "Keep-Alive",
		"Last-Modified", "Location", "Server", "Set-Cookie", "Strict-Transport-Security", "Trailer",
		"Transfer-Encoding", "Vary", "Via", "X-Content-Type-Options", "X-Frame-Options", "X-Request-Id",
		"Access-Control-Allow-Origin", "Grpc-Status", "Grpc-Message", "Upgrade", "Sec-Websocket-Accept",
		// and the ones clients send most (Weir's HTTP/1.x server)
		"Host", "Accept", "Accept-Encoding", "Accept-Language", "User-Agent", "Cookie", "Referer", "Origin",
		"Authorization", "Expect", "If-Modified-Since", "If-None-Match", "X-Forwarded-For", "X-Forwarded-Proto",
		"X-Forwarded-Host", "X-Real-Ip", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Protocol",
		"Sec-Websocket-Extensions", "Te", "Pragma", "Range"} {
		m[k] = k
		m[strings.ToLower(k)] = k
	}
	m["ETag"] = "Etag"
	return m
}()

func canonicalKey(b []byte) string {
	if k, ok := commonKeys[string(b)]; ok {
		return k
	}
	return textproto.CanonicalMIMEHeaderKey(string(b))
}

// framing decides how the body of a response is delimited (RFC 9112
// section 6.3) and whether the connection can be reused, and removes the
// framing headers that are not passed on. It is as strict as net/http's
// reader or stricter: a response whose length could be read two ways is
// malformed, never guessed at.
func framing(rh *respHead, h http.Header, method string) error {
	rh.contentLength = -1
	conn := h["Connection"]
	rh.close = rh.minor == 0 && !headerHasToken(conn, "keep-alive") || headerHasToken(conn, "close")
	te, cl := h["Transfer-Encoding"], h["Content-Length"]
	if len(te) > 0 && len(cl) > 0 {
		return fmt.Errorf("%w: both Transfer-Encoding and Content-Length", errBadResponse)
	}
	if len(te) > 0 && (rh.minor == 0 || len(te) > 1 || !strings.EqualFold(te[0], "chunked")) {
		// Weir decodes no other transfer coding; HTTP/1.0 has none.
		return fmt.Errorf("%w: Transfer-Encoding %q", errBadResponse, te)
	}
	delete(h, "Transfer-Encoding")
	n, err := contentLength(cl)
	if err != nil {
		return err
	}
	if len(cl) > 1 {
		h["Content-Length"] = cl[:1]
	}
	switch {
	case method == http.MethodHead || rh.code == http.StatusNoContent || rh.code == http.StatusNotModified || rh.code < 200:
		rh.contentLength, rh.noBody = 0, true
		if method == http.MethodHead && n >= 0 {
			rh.contentLength = n // informational only: a HEAD answer has no body
		}
	case len(te) > 0:
		rh.chunked = true
	case n >= 0:
		rh.contentLength = n
	default:
		rh.untilClose, rh.close = true, true
	}
	return nil
}

// contentLength reads the Content-Length lines of a response: digits only
// (no sign, no list), and every line the same. -1 means none.
func contentLength(cl []string) (int64, error) {
	if len(cl) == 0 {
		return -1, nil
	}
	v := cl[0]
	if v == "" || len(v) > 18 {
		return 0, fmt.Errorf("%w: Content-Length %q", errBadResponse, truncate([]byte(v)))
	}
	var n int64
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, fmt.Errorf("%w: Content-Length %q", errBadResponse, truncate([]byte(v)))
		}
		n = n*10 + int64(v[i]-'0')
	}
	for _, o := range cl[1:] {
		if o != v {
			return 0, fmt.Errorf("%w: conflicting Content-Length values", errBadResponse)
		}
	}
	return n, nil
}

// bodyReader returns the reader of a response body framed by rh.
func bodyReader(br *bufio.Reader, rh *respHead) io.Reader {
	switch {
	case rh.noBody:
		return nil
	case rh.chunked:
		return httputil.NewChunkedReader(br)
	case rh.untilClose:
		return br
	case rh.contentLength == 0:
		return nil
	default:
		return br // limited by the caller
	}
}

// readTrailers reads the trailer section after the last chunk.
func readTrailers(br *bufio.Reader) (http.Header, error) {
	budget := maxResponseHead
	var t http.Header
	for {
		line, err := readLine(br, &budget)
		if err != nil {
			return t, err
		}
		if len(line) == 0 {
			return t, nil
		}
		k, v, err := splitHeaderLine(string(line))
		if err != nil {
			return t, err
		}
		if t == nil {
			t = make(http.Header)
		}
		t[k] = append(t[k], v)
	}
}
