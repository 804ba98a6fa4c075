package annotations

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// ErrorPages is custom-http-errors with default-backend: the listed
// statuses from the backend (or from Weir itself) get their body from an
// error backend, and default-backend also answers paths whose Service has
// no endpoints.
type ErrorPages struct {
	// Codes are the intercepted statuses (300-599, sorted, unique); empty
	// when custom-http-errors is not set.
	Codes []int
	// DefaultBackend is the name of a Service in the Ingress's namespace;
	// "" uses --default-backend-service for the codes.
	DefaultBackend string
}

// Mirror is mirror-target, mirror-request-body and mirror-host.
type Mirror struct {
	Target *MirrorTarget
	// Body is mirror-request-body (default on).
	Body bool
	// Host is mirror-host: the Host header of the copies ("" is the
	// target's host).
	Host string
}

// MirrorTarget is a parsed mirror-target URL.
type MirrorTarget struct {
	HTTPS bool
	// Host is the name or address dialled, Port its port (the scheme's
	// default when the URL has none).
	Host string
	Port int
	// URI is the request target of the copies, where "$request_uri" stands
	// for the client's path and query; "" sends the client's unchanged.
	URI string
}

// Address is host:port to dial.
func (m *MirrorTarget) Address() string { return net.JoinHostPort(m.Host, strconv.Itoa(m.Port)) }

// ParseHTTPErrorCodes reads custom-http-errors: a comma-separated list of
// statuses from 300 to 599 (spaces around entries allowed). The result is
// sorted and without duplicates. ingress-nginx drops the Ingress for an
// invalid list; so does Weir.
func ParseHTTPErrorCodes(s string) ([]int, error) {
	var codes []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || len(f) != 3 || n < 300 || n > 599 {
			return nil, fmt.Errorf("%s is not a status from 300 to 599", quoteShort(f))
		}
		codes = append(codes, n)
	}
	if len(codes) == 0 {
		return nil, errors.New("no status listed")
	}
	slices.Sort(codes)
	return slices.Compact(codes), nil
}

// requestURIVar is the one nginx variable a mirror-target may hold.
const requestURIVar = "$request_uri"

// ParseMirrorTarget reads a mirror-target: an absolute http or https URL
// with a host, an optional port, and an optional path and query in which
// $request_uri stands for the client's path and query (for example
// "https://mirror.example.com$request_uri"). User info, fragments and any
// other variable are refused.
func ParseMirrorTarget(s string) (*MirrorTarget, error) {
	if !visibleASCII(s) || len(s) > 2048 {
		return nil, errors.New("not a URL of printable ASCII")
	}
	sample := strings.ReplaceAll(s, requestURIVar, "/r")
	if strings.Contains(sample, "$") {
		return nil, errors.New("only $request_uri may be used")
	}
	u, err := url.Parse(sample)
	switch {
	case err != nil:
		return nil, fmt.Errorf("not a URL: %w", err)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("the scheme must be http or https")
	case u.User != nil || u.Fragment != "" || u.Opaque != "":
		return nil, errors.New("user info and fragments are not allowed")
	case !validHost(u.Host) || u.Hostname() == "" || strings.Contains(u.Hostname(), ":") && net.ParseIP(u.Hostname()) == nil:
		return nil, errors.New("the URL has no valid host")
	}
	m := &MirrorTarget{HTTPS: u.Scheme == "https", Host: u.Hostname(), Port: 80}
	if m.HTTPS {
		m.Port = 443
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, errors.New("the port is not from 1 to 65535")
		}
		m.Port = n
	}
	// The request target is what follows the authority in the original
	// text (the variable kept): a path, or $request_uri itself.
	rest := s[len(u.Scheme)+3+len(u.Host):]
	if rest != "" && rest[0] != '/' && !strings.HasPrefix(rest, requestURIVar) {
		return nil, errors.New("the path must start with / or $request_uri")
	}
	if strings.HasPrefix(rest, "//") {
		return nil, errors.New("the path must not start with //")
	}
	m.URI = rest
	return m, nil
}

// errorPages reads custom-http-errors and default-backend. An invalid code
// list drops the Ingress (as ingress-nginx); an invalid Service name is
// ignored with a warning.
func (p *parser) errorPages(c *Config) {
	var ep ErrorPages
	if v, ok := p.get("custom-http-errors"); ok && strings.TrimSpace(v) != "" {
		codes, err := ParseHTTPErrorCodes(v)
		if err != nil {
			p.problem("custom-http-errors", ReasonInvalidValue, Error, "%s: %v; the Ingress is not served", quoteShort(v), err)
			c.DropIngress = true
			return
		}
		ep.Codes = codes
	}
	ep.DefaultBackend = p.checked("default-backend", ReasonInvalidValue, validServiceName,
		"is not a Service name (a DNS-1035 label)", "the annotation is ignored")
	if len(ep.Codes) > 0 || ep.DefaultBackend != "" {
		c.ErrorPages = &ep
	}
}

// validServiceName reports a DNS-1035 label: lower-case letters, digits
// and "-", starting with a letter, at most 63 bytes.
func validServiceName(s string) bool {
	if s == "" || len(s) > 63 || s[0] < 'a' || s[0] > 'z' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// mirror reads mirror-target, mirror-request-body and mirror-host. An
// invalid target or host mirrors nothing (a warning): mirroring never
// changes what the client gets, so the Ingress is served.
func (p *parser) mirror(c *Config) {
	v, ok := p.get("mirror-target")
	body := true
	if p.has("mirror-request-body") {
		body = p.onOff("mirror-request-body")
	}
	host := p.wire("mirror-host", validHost, "a host name with an optional port")
	if !ok || strings.TrimSpace(v) == "" {
		return
	}
	t, err := ParseMirrorTarget(strings.TrimSpace(v))
	if err != nil {
		p.problem("mirror-target", ReasonInvalidValue, Warning, "%s: %v; requests are not mirrored", quoteShort(v), err)
		return
	}
	c.Mirror = &Mirror{Target: t, Body: body, Host: host}
}

// has reports whether an annotation is present with a non-blank value.
func (p *parser) has(name string) bool {
	v, ok := p.get(name)
	return ok && strings.TrimSpace(v) != ""
}

// errorPageEntries are the annotations of this file, all location-level.
var errorPageEntries = []struct{ name, def, doc string }{
	{"custom-http-errors", "", "Comma-separated statuses (300-599; a listed 304 is passed on as it is: it has no body) whose body comes from the error backend (default-backend, else --default-backend-service), which gets X-Code, X-Format, X-Original-URI, X-Namespace, X-Ingress-Name, X-Service-Name, X-Service-Port and X-Request-ID; the client keeps the original status. An invalid list: the Ingress is not served."},
	{"default-backend", "", "Service (same namespace, first port) answering the Ingress's custom-http-errors and every request whose Service has no endpoints."},
	{"mirror-target", "", "http(s) URL that gets a copy of each request, response discarded; $request_uri stands for the client's path and query; without a path the client's is sent. Copies never delay or fail the request; at most 256 in flight per process."},
	{"mirror-request-body", "on", "off: copies carry no body. Bodies over 64 KiB or of unknown length are never copied (the request is then not mirrored)."},
	{"mirror-host", "", "Host header of the copies (default: the host of mirror-target)."},
}

func registerErrorPages() {
	for _, e := range errorPageEntries {
		register(Entry{Name: e.name, Scope: ScopeLocation, Risk: RiskLow, Default: e.def, Supported: true, Doc: e.doc})
	}
}
