// Package wire holds the HTTP/1.x field syntax that Weir's HTTP/1.x server,
// its upstream client and its handler share, so that what one side accepts
// and the other writes cannot drift apart: tokens and field values (RFC 9110
// section 5), header lines, comma-separated lists, Content-Length values and
// trailer sections. Nothing here allocates on the usual path.
package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"strings"
)

// tchar marks the bytes of an RFC 9110 token (section 5.6.2).
var tchar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// ValidToken reports whether s is a non-empty RFC 9110 token: a method or a
// field name.
func ValidToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tchar[s[i]] {
			return false
		}
	}
	return true
}

// ValidFieldValue reports whether s is an RFC 9110 field value (section
// 5.5): visible characters, obs-text, spaces and tabs, no other control
// character (CR, LF and NUL above all) and no DEL.
func ValidFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// IsOWS reports a space or a tab, the optional whitespace around values.
func IsOWS(c byte) bool { return c == ' ' || c == '\t' }

// TrimOWS removes the spaces and tabs around a field value (RFC 9110
// section 5.5), and nothing else.
func TrimOWS(s string) string {
	for s != "" && IsOWS(s[0]) {
		s = s[1:]
	}
	for s != "" && IsOWS(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

// Truncate shortens a value quoted in an error or a log line.
func Truncate(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

// ErrMalformed marks a header line, trailer or length that breaks the
// syntax; callers wrap it with whose fault it is.
var ErrMalformed = errors.New("malformed field")

// ErrTooLarge marks a header or trailer section over its budget.
var ErrTooLarge = errors.New("response headers too large")

// SplitField splits a header line "Name: value" into the canonical name and
// the value without its surrounding spaces and tabs. The name must be a
// token (no space before the colon, no folded line) and the value a field
// value: a CR, LF or NUL in it is malformed, never passed on.
func SplitField(line string) (string, string, error) {
	i := strings.IndexByte(line, ':')
	if i <= 0 || !ValidToken(line[:i]) || !ValidFieldValue(line[i+1:]) {
		return "", "", fmt.Errorf("%w: header line %q", ErrMalformed, Truncate([]byte(line)))
	}
	return CanonicalKey(line[:i]), TrimOWS(line[i+1:]), nil
}

// ReadLine returns one line without its CRLF, charging it to budget.
func ReadLine(br *bufio.Reader, budget *int) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, ErrTooLarge
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if *budget -= len(line); *budget < 0 {
		return nil, ErrTooLarge
	}
	// A bare LF ends no line here: a peer that echoes a value with one
	// means one field, not two (RFC 9112 section 2.2 lets a recipient
	// choose; Weir does not guess).
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("%w: line %q does not end in CRLF", ErrMalformed, Truncate(line))
	}
	return line[:len(line)-2], nil
}

// MaxHead bounds a response head and a trailer section.
const MaxHead = 64 << 10

// ReadTrailers reads the trailer section after the last chunk of a body
// (nil when it is empty).
func ReadTrailers(br *bufio.Reader) (map[string][]string, error) {
	budget := MaxHead
	var t map[string][]string
	err := ReadFields(br, &budget, &t)
	return t, err
}

// ReadFields reads header lines up to the empty line that ends them, each
// charged to budget, into *h (made when the first line arrives).
func ReadFields(br *bufio.Reader, budget *int, h *map[string][]string) error {
	for {
		line, err := ReadLine(br, budget)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		k, v, err := SplitField(string(line))
		if err != nil {
			return err
		}
		if *h == nil {
			*h = make(map[string][]string)
		}
		(*h)[k] = append((*h)[k], v)
	}
}

// ContentLength reads the Content-Length lines of a message: digits only
// (no sign, no list), and every line the same. -1 means none.
func ContentLength(cl []string) (int64, error) {
	if len(cl) == 0 {
		return -1, nil
	}
	v := cl[0]
	if v == "" || len(v) > 18 {
		return 0, fmt.Errorf("%w: Content-Length %q", ErrMalformed, Truncate([]byte(v)))
	}
	var n int64
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, fmt.Errorf("%w: Content-Length %q", ErrMalformed, Truncate([]byte(v)))
		}
		n = n*10 + int64(v[i]-'0')
	}
	for _, o := range cl[1:] {
		if o != v {
			return 0, fmt.Errorf("%w: conflicting Content-Length values", ErrMalformed)
		}
	}
	return n, nil
}

// WriteField writes the header line "k: v" (both checked by the caller).
func WriteField(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(v)
	bw.WriteString("\r\n")
}

// commonKeys maps the header names peers send most, in the spellings they
// use, to their canonical form; a lookup with string(b) does not allocate.
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

// CanonicalKey returns the canonical form of a header name: common names
// from a table, others through textproto (which allocates only when the
// spelling changes).
func CanonicalKey(s string) string {
	if k, ok := commonKeys[s]; ok {
		return k
	}
	return textproto.CanonicalMIMEHeaderKey(s)
}

// FramesOrRoutes reports the header names (canonical form) that no
// configuration may set or add: they frame the message, belong to one hop,
// or route it, and beside the framing Weir writes itself they would let
// the receiver read the message two ways. The translation refuses them
// (annotations) and the proxy never applies them (its header edits).
func FramesOrRoutes(name string) bool {
	switch name {
	case "Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Upgrade", "Host":
		return true
	}
	return false
}
