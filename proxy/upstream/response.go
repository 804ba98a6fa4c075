package upstream

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"strings"

	"weir.dev/weir/proxy/wire"
)

// ErrBadResponse marks a response that breaks HTTP/1.1's syntax or whose
// framing could be read two ways: never passed on, the endpoint's fault.
var ErrBadResponse = errors.New("malformed response")

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
// first, so the usual response allocates only its values; their slices go
// in vals when its capacity is enough (a Room's), and in a new array if not.
func readResponseHead(br *bufio.Reader, h http.Header, vals []string) (respHead, error) {
	// The usual head is already whole in the buffer: parse it from one
	// string, so every header value is a substring of it (one allocation).
	if buf, _ := br.Peek(br.Buffered()); len(buf) > 0 {
		if end := bytes.Index(buf, []byte("\r\n\r\n")); end >= 0 &&
			bytes.Count(buf[:end+2], []byte("\n")) == bytes.Count(buf[:end+2], []byte("\r\n")) {
			head := string(buf[:end+2])
			br.Discard(end + 4)
			return parseHead(head, h, vals)
		}
	}
	return readHeadLines(br, h)
}

// readLine reads one line of a response head (wire.ReadLine).
func readLine(br *bufio.Reader, budget *int) ([]byte, error) {
	line, err := wire.ReadLine(br, budget)
	return line, badResponse(err)
}

// badResponse marks a syntax error as the endpoint's.
func badResponse(err error) error {
	if errors.Is(err, wire.ErrMalformed) {
		return fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	return err
}

// parseHead parses a whole head (status line and header lines, each ending
// in CRLF) held in one string; vals as readResponseHead's.
func parseHead(head string, h http.Header, vals []string) (respHead, error) {
	var rh respHead
	line, rest, _ := strings.Cut(head, "\r\n")
	if err := parseStatusLine(&rh, line); err != nil {
		return rh, err
	}
	if n := strings.Count(rest, "\r\n"); n > cap(vals) {
		vals = make([]string, 0, n)
	}
	vals = vals[:0]
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
		line[8] != ' ' || !wire.ValidFieldValue(line[12:]) {
		return fmt.Errorf("%w: status line %q", ErrBadResponse, wire.Truncate([]byte(line)))
	}
	rh.minor = int(line[7] - '0')
	code := 0
	for i := 9; i < 12; i++ {
		c := line[i]
		if c < '0' || c > '9' {
			return fmt.Errorf("%w: status line %q", ErrBadResponse, wire.Truncate([]byte(line)))
		}
		code = code*10 + int(c-'0')
	}
	if code < 100 || (len(line) > 12 && line[12] != ' ') {
		return fmt.Errorf("%w: status line %q", ErrBadResponse, wire.Truncate([]byte(line)))
	}
	rh.code = code
	return nil
}

// readHeadLines parses a head that is not yet whole in the buffer, line by
// line.
func readHeadLines(br *bufio.Reader, h http.Header) (respHead, error) {
	var rh respHead
	budget := wire.MaxHead
	line, err := readLine(br, &budget)
	if err != nil {
		return rh, err
	}
	if err := parseStatusLine(&rh, string(line)); err != nil {
		return rh, err
	}
	hm := map[string][]string(h)
	return rh, badResponse(wire.ReadFields(br, &budget, &hm))
}

// splitHeaderLine splits a response's header line (wire.SplitField).
func splitHeaderLine(line string) (string, string, error) {
	k, v, err := wire.SplitField(line)
	if err != nil {
		return k, v, badResponse(err)
	}
	return k, v, nil
}

// framing decides how the body of a response is delimited (RFC 9112
// section 6.3) and whether the connection can be reused, and removes the
// framing headers that are not passed on. It is as strict as net/http's
// reader or stricter: a response whose length could be read two ways is
// malformed, never guessed at.
func framing(rh *respHead, h http.Header, method string) error {
	rh.contentLength = -1
	conn := h["Connection"]
	rh.close = rh.minor == 0 && !wire.HasToken(conn, "keep-alive") || wire.HasToken(conn, "close")
	te, cl := h["Transfer-Encoding"], h["Content-Length"]
	if len(te) > 0 && len(cl) > 0 {
		return fmt.Errorf("%w: both Transfer-Encoding and Content-Length", ErrBadResponse)
	}
	if len(te) > 0 && (rh.minor == 0 || len(te) > 1 || !strings.EqualFold(te[0], "chunked")) {
		// Weir decodes no other transfer coding; HTTP/1.0 has none.
		return fmt.Errorf("%w: Transfer-Encoding %q", ErrBadResponse, te)
	}
	delete(h, "Transfer-Encoding")
	n, err := wire.ContentLength(cl)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	if len(cl) > 1 {
		h["Content-Length"] = cl[:1]
	}
	switch {
	case method == http.MethodHead || rh.code == http.StatusNoContent || rh.code == http.StatusNotModified || rh.code < 200:
		// No body follows, whatever the length says; the length is the
		// endpoint's, or unknown (-1), never an invented 0: a HEAD answer's
		// length is the resource's (a chunked one has none), and a 304 may
		// carry only the 200's (RFC 9110 section 8.6).
		rh.contentLength, rh.noBody = n, true
	case len(te) > 0:
		rh.chunked = true
	case n >= 0:
		rh.contentLength = n
	default:
		rh.untilClose, rh.close = true, true
	}
	return nil
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
