package annotations

import (
	"fmt"
	"strings"
)

// upstream reads the backend-level annotations.
func (p *parser) upstream(c *Config) {
	c.BackendProtocol = ProtocolHTTP
	if v, ok := p.get("backend-protocol"); ok {
		switch up := Protocol(strings.ToUpper(strings.TrimSpace(v))); up {
		case ProtocolHTTP, ProtocolHTTPS, ProtocolGRPC, ProtocolGRPCS, ProtocolH2C:
			c.BackendProtocol = up
		case "AUTO_HTTP":
			c.BackendProtocol = ProtocolHTTP
		case "FCGI":
			p.problem("backend-protocol", ReasonUnsupportedAnnotation, Warning, "FCGI backends are not supported; using HTTP")
		default:
			p.problem("backend-protocol", ReasonInvalidValue, Warning, "%q is not HTTP, HTTPS, GRPC, GRPCS or H2C; using HTTP", v)
		}
	}
	p.balance(c)
	p.affinity(c)
}

// balance reads load-balance and upstream-hash-by (the parts a canary
// Ingress may set too).
func (p *parser) balance(c *Config) {
	if v, ok := p.get("load-balance"); ok {
		switch v = strings.TrimSpace(v); v {
		case "least_conn", "round_robin", "ewma":
			c.LoadBalance = v
		default:
			p.problem("load-balance", ReasonInvalidValue, Warning, "%q is not least_conn, round_robin or ewma; using least_conn", v)
		}
	}
	if v, ok := p.get("upstream-hash-by"); ok && strings.TrimSpace(v) != "" {
		parts, err := ParseHashKey(v)
		if err != nil {
			p.problem("upstream-hash-by", ReasonInvalidHashKey, Error, "%v; the Ingress is not served", err)
			c.DropIngress = true
		} else {
			c.UpstreamHashBy = parts
		}
	}
}

func (p *parser) affinity(c *Config) {
	v, ok := p.get("affinity")
	if !ok || v == "" {
		return
	}
	if v != "cookie" {
		p.problem("affinity", ReasonInvalidValue, Warning, "%q is not cookie; no affinity", v)
		return
	}
	a := &Affinity{CookieName: "INGRESSCOOKIE", Path: "/", Mode: "balanced"}
	if n := p.wire("session-cookie-name", validHeaderName, "a cookie name (an RFC 9110 token)"); n != "" {
		a.CookieName = n
	}
	if v := p.wire("session-cookie-path", validCookiePath, "a path starting with / without ; or spaces"); v != "" {
		a.Path = v
	}
	a.Domain = p.wire("session-cookie-domain", validCookieDomain, "a domain name")
	if v, ok := p.get("affinity-mode"); ok {
		if v == "balanced" || v == "persistent" {
			a.Mode = v
		} else {
			p.problem("affinity-mode", ReasonInvalidValue, Warning, "%q is not balanced or persistent; using balanced", v)
		}
	}
	a.MaxAge = p.secondsUpTo("session-cookie-max-age", 0, MaxCookieAge)
	if a.MaxAge == 0 {
		a.MaxAge = p.secondsUpTo("session-cookie-expires", 0, MaxCookieAge)
	}
	a.Secure = p.boolean("session-cookie-secure", false)
	a.ChangeOnFailure = p.boolean("session-cookie-change-on-failure", false)
	if v, ok := p.get("session-cookie-samesite"); ok {
		switch strings.ToLower(v) {
		case "none":
			a.SameSite = "None"
		case "lax":
			a.SameSite = "Lax"
		case "strict":
			a.SameSite = "Strict"
		default:
			p.problem("session-cookie-samesite", ReasonInvalidValue, Warning, "%q is not None, Lax or Strict; not set", v)
		}
	}
	c.Affinity = a
}

// ParseHashKey parses an upstream-hash-by template: nginx variables among
// literal text. Unknown variables are an error.
func ParseHashKey(s string) ([]KeyPart, error) {
	return parseKey(s, hashVariable)
}

// parseKey parses nginx variables (named by variable) among literal text.
func parseKey(s string, variable func(string) (KeyPart, error)) ([]KeyPart, error) {
	var parts []KeyPart
	lit := strings.Builder{}
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, KeyPart{Kind: KeyLiteral, Name: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		if s[i] != '$' {
			lit.WriteByte(s[i])
			i++
			continue
		}
		j := i + 1
		braced := j < len(s) && s[j] == '{'
		if braced {
			j++
		}
		k := j
		for k < len(s) && (isWordByte(s[k])) {
			k++
		}
		name := s[j:k]
		if braced {
			if k >= len(s) || s[k] != '}' {
				return nil, errorf("unterminated ${ at offset %d", i)
			}
			k++
		}
		part, err := variable(name)
		if err != nil {
			return nil, err
		}
		flush()
		parts = append(parts, part)
		i = k
	}
	flush()
	if len(parts) == 0 {
		return nil, errorf("empty key")
	}
	return parts, nil
}

func hashVariable(name string) (KeyPart, error) {
	switch {
	case name == "request_uri":
		return KeyPart{Kind: KeyRequestURI}, nil
	case name == "uri":
		return KeyPart{Kind: KeyURI}, nil
	case name == "host":
		return KeyPart{Kind: KeyHost}, nil
	case name == "remote_addr", name == "binary_remote_addr":
		return KeyPart{Kind: KeyRemoteAddr}, nil
	case strings.HasPrefix(name, "http_") && len(name) > 5:
		return KeyPart{Kind: KeyHeader, Name: strings.ReplaceAll(name[5:], "_", "-")}, nil
	case strings.HasPrefix(name, "cookie_") && len(name) > 7:
		return KeyPart{Kind: KeyCookie, Name: name[7:]}, nil
	case strings.HasPrefix(name, "arg_") && len(name) > 4:
		return KeyPart{Kind: KeyArg, Name: name[4:]}, nil
	}
	return KeyPart{}, errorf("unknown variable $%s", name)
}

func isWordByte(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

func errorf(format string, args ...any) error {
	return fmt.Errorf("upstream-hash-by: "+format, args...)
}

// validCookiePath reports a Path attribute: a path without ";" (which would
// start another attribute).
func validCookiePath(s string) bool {
	return visibleASCII(s) && s[0] == '/' && !strings.Contains(s, ";")
}
