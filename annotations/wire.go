package annotations

import (
	"net/url"
	"strings"
	"time"
)

// Bounds of numeric annotations. A value outside them is a problem and the
// annotation's documented default applies, so that no value can overflow a
// time.Duration or an int on the way to the proxy.
const (
	// MaxTimeout bounds every proxy-*-timeout and weir.dev/health-check-*
	// (one week: long enough for any WebSocket idle timeout).
	MaxTimeout = 7 * 24 * time.Hour
	// MaxCookieAge bounds session-cookie-max-age and -expires (400 days,
	// the most a browser keeps a cookie).
	MaxCookieAge = 400 * 24 * time.Hour
	// MaxCount bounds counts: canary weights, retries, rate limits,
	// cors-max-age.
	MaxCount = 1 << 30
	// MaxTries bounds proxy-next-upstream-tries.
	MaxTries = 100
)

// isTchar reports a byte of an RFC 9110 token (header names, cookie names,
// methods).
func isTchar(b byte) bool {
	switch {
	case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}

// validHeaderName reports an RFC 9110 field name (also a cookie name and a
// method: all three are tokens).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return false
		}
	}
	return true
}

// visibleASCII reports a non-empty string of printable ASCII without space:
// safe in a header value, a request target and a cookie attribute.
func visibleASCII(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// validHeaderValue reports printable ASCII with inner spaces or tabs: what
// Weir writes as a header value (no CR, LF, NUL or other control bytes).
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// validHost reports a host name, IPv4 or bracketed IPv6 address with an
// optional port: the value of a Host header.
func validHost(s string) bool {
	if s == "" || len(s) > 261 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._:[]", c) >= 0) {
			return false
		}
	}
	return s[0] != '.' && s[0] != '-' && s[0] != ':'
}

// validPath reports an absolute path Weir may send in a request line or a
// Location header: visible ASCII starting with one "/" ("//host" would be a
// protocol-relative URL, i.e. another site).
func validPath(s string) bool {
	return visibleASCII(s) && s[0] == '/' && !strings.HasPrefix(s, "//") && !strings.HasPrefix(s, "/\\")
}

// validURL reports an absolute http or https URL with a host, written in
// visible ASCII: what Weir may put in a Location header or dial.
func validURL(s string) bool {
	if !visibleASCII(s) {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	return u.Scheme == "http" || u.Scheme == "https"
}

// validRedirect reports a redirect target: an absolute http(s) URL or a
// path on the same host.
func validRedirect(s string) bool {
	return validURL(s) || validPath(s)
}

// validCookieDomain reports a Domain attribute: a host name, optionally
// with a leading dot.
func validCookieDomain(s string) bool {
	s = strings.TrimPrefix(s, ".")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
