// Package compress compresses responses on the way to the client (gzip,
// and brotli when enabled): ingress-nginx's use-gzip, gzip-level,
// gzip-min-length, gzip-types, enable-brotli, brotli-level,
// brotli-min-length and brotli-types. Responses stream: the encoder is
// flushed whenever the proxy flushes. A response is compressed only when
// the client asked for the encoding (Accept-Encoding, q-values honoured),
// its status is 200, 403 or 404 (as nginx), its media type is listed, it
// is not already encoded, carries no Content-Range, no
// Cache-Control: no-transform, is not the answer to HEAD, and it is at
// least the minimum length (from Content-Length, or the bytes written
// before the first flush).
package compress

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Config is the compression settings as the global configuration states
// them; the zero value compresses nothing.
type Config struct {
	Gzip          bool
	GzipLevel     int   // 1-9; 0 is DefaultGzipLevel
	GzipMinLength int64 // bytes; 0 compresses every length
	// GzipTypes are media types ("text/plain") or "*"; nil is
	// DefaultTypes. text/html is always included, as in nginx.
	GzipTypes []string

	Brotli          bool
	BrotliLevel     int // 0-11; -1 is DefaultBrotliLevel
	BrotliMinLength int64
	BrotliTypes     []string
}

// ingress-nginx's defaults.
const (
	DefaultGzipLevel       = 1
	DefaultGzipMinLength   = 256
	DefaultBrotliLevel     = 4
	DefaultBrotliMinLength = 20
	// MaxMinLength bounds the min lengths: bytes held back before the
	// decision.
	MaxMinLength = 1 << 20
)

// DefaultTypes is ingress-nginx's gzip-types and brotli-types.
var DefaultTypes = []string{"application/atom+xml", "application/javascript", "application/x-javascript",
	"application/json", "application/rss+xml", "application/vnd.ms-fontobject", "application/x-font-ttf",
	"application/x-web-app-manifest+json", "application/xhtml+xml", "application/xml", "font/opentype",
	"image/svg+xml", "image/x-icon", "text/css", "text/javascript", "text/plain", "text/x-component"}

// Defaults returns ingress-nginx's settings with gzip on and brotli off.
func Defaults() Config {
	return Config{Gzip: true, GzipLevel: DefaultGzipLevel, GzipMinLength: DefaultGzipMinLength,
		BrotliLevel: DefaultBrotliLevel, BrotliMinLength: DefaultBrotliMinLength}
}

// ParseTypes reads a gzip-types or brotli-types value: media types
// separated by spaces (or commas), or "*".
func ParseTypes(s string) ([]string, error) {
	f := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
	if len(f) == 0 {
		return nil, errors.New("no media type listed")
	}
	for _, t := range f {
		if t != "*" && !validMediaType(t) {
			return nil, fmt.Errorf("%q is not a media type (type/subtype)", t)
		}
	}
	return f, nil
}

func validMediaType(t string) bool {
	typ, sub, ok := strings.Cut(t, "/")
	return ok && token(typ) && (token(sub) || sub == "*")
}

func token(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// Validate reports the first setting out of range.
func (c Config) Validate() error {
	switch {
	case c.GzipLevel < 0 || c.GzipLevel > 9:
		return fmt.Errorf("gzip-level %d is not from 1 to 9", c.GzipLevel)
	case c.BrotliLevel < -1 || c.BrotliLevel > 11:
		return fmt.Errorf("brotli-level %d is not from 0 to 11", c.BrotliLevel)
	case c.GzipMinLength < 0 || c.GzipMinLength > MaxMinLength:
		return fmt.Errorf("gzip-min-length %d is not from 0 to %d", c.GzipMinLength, MaxMinLength)
	case c.BrotliMinLength < 0 || c.BrotliMinLength > MaxMinLength:
		return fmt.Errorf("brotli-min-length %d is not from 0 to %d", c.BrotliMinLength, MaxMinLength)
	}
	for _, ts := range [][]string{c.GzipTypes, c.BrotliTypes} {
		for _, t := range ts {
			if t != "*" && !validMediaType(strings.ToLower(t)) {
				return fmt.Errorf("%q is not a media type", t)
			}
		}
	}
	return nil
}

// Policy is a validated Config, ready for the request path; nil
// compresses nothing.
type Policy struct {
	gzip, brotli codec
}

// codec is one encoding's settings.
type codec struct {
	on    bool
	level int
	min   int64
	any   bool
	types map[string]bool
}

// New builds the policy of c; nil (and no error) when c compresses nothing.
func New(c Config) (*Policy, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if !c.Gzip && !c.Brotli {
		return nil, nil
	}
	if c.GzipLevel == 0 {
		c.GzipLevel = DefaultGzipLevel
	}
	if c.BrotliLevel < 0 {
		c.BrotliLevel = DefaultBrotliLevel
	}
	p := &Policy{
		gzip:   newCodec(c.Gzip, c.GzipLevel, c.GzipMinLength, c.GzipTypes),
		brotli: newCodec(c.Brotli, c.BrotliLevel, c.BrotliMinLength, c.BrotliTypes),
	}
	return p, nil
}

func newCodec(on bool, level int, min int64, types []string) codec {
	if types == nil {
		types = DefaultTypes
	}
	c := codec{on: on, level: level, min: min, types: map[string]bool{"text/html": true}}
	for _, t := range types {
		if t == "*" {
			c.any = true
		}
		c.types[strings.ToLower(t)] = true
	}
	return c
}

// accepts reports whether the codec compresses a response of this
// Content-Type (parameters ignored, case-insensitive).
func (c *codec) accepts(contentType string) bool {
	if !c.on || contentType == "" {
		return false
	}
	if c.any {
		return true
	}
	mt := contentType
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	mt = strings.TrimSpace(mt)
	if c.types[mt] {
		return true
	}
	return !isLower(mt) && c.types[strings.ToLower(mt)]
}

func isLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 'A' && s[i] <= 'Z' {
			return false
		}
	}
	return true
}

// String describes the policy for table dumps.
func (p *Policy) String() string {
	return "gzip=" + p.gzip.String() + " brotli=" + p.brotli.String()
}

func (c *codec) String() string {
	if !c.on {
		return "off"
	}
	types := make([]string, 0, len(c.types))
	for t := range c.types {
		types = append(types, t)
	}
	sort.Strings(types)
	return fmt.Sprintf("level=%d min=%d types=%s", c.level, c.min, strings.Join(types, ","))
}
