// Package stream proxies whole TCP connections: TLS passthrough by SNI on
// the HTTPS port (passthrough.go) and the TCP services of ingress-nginx's
// --tcp-services-configmap (tcp.go). Bytes are spliced as they are, both
// ways, with idle timeouts and half-close (splice.go); nothing here parses
// or rewrites the application protocol, except the TLS ClientHello, read
// only to learn the server name (this file).
package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// MaxHello is the largest ClientHello read while looking for the server
// name (a hello with post-quantum key shares is about 2 KiB; RFC 8446 caps
// a record at 16 KiB). A larger one is refused.
const MaxHello = 16 << 10

const (
	recordHeaderLen = 5
	maxRecordLen    = 1 << 14 // TLSPlaintext.length limit (RFC 8446, 5.1)
	typeHandshake   = 0x16
	typeClientHello = 1
	extServerName   = 0
)

// ErrNotTLS says the connection does not start with a TLS handshake record:
// it is not a ClientHello at all (for example plain HTTP sent to the HTTPS
// port), and the TLS server answers it as before.
var ErrNotTLS = errors.New("not a TLS handshake")

// errHello is any malformed or oversized ClientHello.
var errHello = errors.New("malformed ClientHello")

// ReadHello reads the records holding the first handshake message from r and
// returns the ClientHello's server name (lower case, without a trailing dot;
// "" when the client sent none) and every byte read, which the caller
// replays to whoever handles the connection. ErrNotTLS comes back, with the
// bytes read, when the first byte is not a handshake record; any other
// error means a malformed, truncated or too large hello.
func ReadHello(r io.Reader, maxLen int) (string, []byte, error) {
	raw := make([]byte, 0, 2048) // most hellos fit: one allocation
	var msg []byte
	ownMsg := false // msg has a buffer of its own, not raw's
	var hdr [recordHeaderLen]byte
	for {
		if _, err := io.ReadFull(r, hdr[:1]); err != nil {
			return "", raw, fmt.Errorf("reading a TLS record: %w", err)
		}
		raw = append(raw, hdr[0])
		if hdr[0] != typeHandshake {
			if len(raw) == 1 {
				return "", raw, ErrNotTLS
			}
			return "", raw, fmt.Errorf("%w: record type %d inside the hello", errHello, hdr[0])
		}
		if _, err := io.ReadFull(r, hdr[1:]); err != nil {
			return "", raw, fmt.Errorf("reading a TLS record header: %w", err)
		}
		raw = append(raw, hdr[1:]...)
		n := int(binary.BigEndian.Uint16(hdr[3:]))
		if hdr[1] != 3 || n == 0 || n > maxRecordLen || len(msg)+n > maxLen+4 {
			return "", raw, fmt.Errorf("%w: record version %d.%d, length %d", errHello, hdr[1], hdr[2], n)
		}
		start := len(raw)
		raw = slices.Grow(raw, n)[:start+n]
		if k, err := io.ReadFull(r, raw[start:]); err != nil {
			return "", raw[:start+k], fmt.Errorf("reading a TLS record: %w", err)
		}
		switch {
		case msg == nil:
			msg = raw[start:] // the usual single record: no copy
		case !ownMsg:
			// msg is part of raw: copy it out once, then append in place
			// (copying it again for every record made a hello split into
			// tiny records cost memory quadratic in its size).
			msg = append(slices.Clip(msg), raw[start:]...)
			ownMsg = true
		default:
			msg = append(msg, raw[start:]...)
		}
		if len(msg) < 4 {
			continue
		}
		if msg[0] != typeClientHello {
			return "", raw, fmt.Errorf("%w: handshake type %d", errHello, msg[0])
		}
		body := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
		if body > maxLen {
			return "", raw, fmt.Errorf("%w: %d bytes, more than %d", errHello, body, maxLen)
		}
		if len(msg) >= 4+body {
			name, err := serverName(msg[4 : 4+body])
			return name, raw, err
		}
	}
}

// reader walks a byte slice; any read past its end sets bad.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) take(n int) []byte {
	if r.bad || n > len(r.b) {
		r.bad = true
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() int { b := r.take(1); return int(r.byteAt(b, 0)) }

func (r *reader) u16() int {
	b := r.take(2)
	return int(r.byteAt(b, 0))<<8 | int(r.byteAt(b, 1))
}

func (r *reader) byteAt(b []byte, i int) byte {
	if i >= len(b) {
		return 0
	}
	return b[i]
}

// vec reads a vector with an n-byte length prefix (n is 1 or 2).
func (r *reader) vec(n int) reader {
	l := r.u8()
	if n == 2 {
		l = l<<8 | r.u8()
	}
	return reader{b: r.take(l), bad: r.bad}
}

// serverName parses a ClientHello body (RFC 8446, 4.1.2) and returns its
// server_name extension's host name.
func serverName(body []byte) (string, error) {
	r := &reader{b: body}
	r.take(2 + 32) // legacy_version, random
	if sid := r.vec(1); len(sid.b) > 32 {
		return "", fmt.Errorf("%w: session id of %d bytes", errHello, len(sid.b))
	}
	if cs := r.vec(2); len(cs.b) < 2 || len(cs.b)%2 != 0 {
		return "", fmt.Errorf("%w: cipher suites", errHello)
	}
	if cm := r.vec(1); len(cm.b) < 1 {
		return "", fmt.Errorf("%w: compression methods", errHello)
	}
	if r.bad {
		return "", fmt.Errorf("%w: truncated", errHello)
	}
	if len(r.b) == 0 {
		return "", nil // no extensions at all
	}
	exts := r.vec(2)
	if r.bad || len(r.b) != 0 {
		return "", fmt.Errorf("%w: extensions length", errHello)
	}
	var seen []int
	name := ""
	for len(exts.b) > 0 && !exts.bad {
		typ := exts.u16()
		data := exts.vec(2)
		if exts.bad {
			break
		}
		if slices.Contains(seen, typ) {
			return "", fmt.Errorf("%w: extension %d twice", errHello, typ)
		}
		seen = append(seen, typ)
		if typ == extServerName {
			var err error
			if name, err = hostName(&data); err != nil {
				return "", err
			}
		}
	}
	if exts.bad {
		return "", fmt.Errorf("%w: truncated extension", errHello)
	}
	return name, nil
}

// hostName reads a server_name extension (RFC 6066, 3): one host_name entry
// whose name is a valid DNS name, returned in lower case.
func hostName(data *reader) (string, error) {
	list := data.vec(2)
	if data.bad || len(data.b) != 0 {
		return "", fmt.Errorf("%w: server_name length", errHello)
	}
	name := ""
	for len(list.b) > 0 && !list.bad {
		typ := list.u8()
		v := list.vec(2)
		if list.bad {
			break
		}
		if typ != 0 {
			continue // unknown name types are skipped (RFC 6066)
		}
		if name != "" {
			return "", fmt.Errorf("%w: two host names", errHello)
		}
		name = string(v.b)
		if name == "" {
			return "", fmt.Errorf("%w: empty host name", errHello)
		}
	}
	if list.bad {
		return "", fmt.Errorf("%w: truncated server_name", errHello)
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name != "" && !validHost(name) {
		return "", fmt.Errorf("%w: host name %q", errHello, name)
	}
	return name, nil
}

// validHost accepts letters, digits, '-' and '_' in dot-separated labels of
// 1 to 63 bytes, at most 253 bytes in all.
func validHost(h string) bool {
	if len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
