package auth

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ExternalConfig is what an External is built from (annotations.ExternalAuth,
// validated).
type ExternalConfig struct {
	URL                 string // may hold $host, $scheme, $request_uri, ...
	Method              string // "" is GET
	SignIn              string
	SignInRedirectParam string
	ResponseHeaders     []string
	RequestRedirect     string
	AlwaysSetCookie     bool
	// CacheKey, when set, caches answers per key under CacheRules.
	CacheKey   []KeyPart
	CacheRules []CacheRule
	// Timeout bounds the whole subrequest (default DefaultTimeout).
	Timeout time.Duration
	// SetHeaders are set on the subrequest (auth-proxy-set-headers),
	// validated by the caller: token names, values without control bytes.
	// An empty value removes the client's header. A value may hold the
	// variables of URL. They never replace the facts Weir sets
	// (X-Original-URL and the others of subrequest).
	SetHeaders []Header
}

// Header is one header name and value.
type Header struct{ Name, Value string }

// DefaultTimeout bounds an authentication subrequest.
const DefaultTimeout = 10 * time.Second

// External is external authentication: every request is first sent, without
// its body, to an authentication service that decides.
type External struct {
	cfg    ExternalConfig
	client *http.Client
	cache  *answerCache // nil: every request asks
	desc   string
}

// transport is the connection pool shared by every auth service: bounded per
// host, with its own timeouts. Like ingress-nginx, it does not verify the
// auth service's certificate.
var transport = &http.Transport{
	DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	MaxIdleConns:          256,
	MaxIdleConnsPerHost:   32,
	MaxConnsPerHost:       256,
	IdleConnTimeout:       60 * time.Second,
	TLSHandshakeTimeout:   5 * time.Second,
	ResponseHeaderTimeout: DefaultTimeout,
	DisableCompression:    true,
	TLSClientConfig:       &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // matches ingress-nginx's auth location
}

// NewExternal builds an External.
func NewExternal(c ExternalConfig) *External {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Method == "" {
		c.Method = http.MethodGet
	}
	for i := range c.SetHeaders {
		c.SetHeaders[i].Name = http.CanonicalHeaderKey(c.SetHeaders[i].Name)
	}
	if c.SignInRedirectParam == "" {
		c.SignInRedirectParam = "rd"
	}
	client := &http.Client{Transport: transport, Timeout: c.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	desc := c.Method + " " + c.URL
	if c.SignIn != "" {
		desc += " signin=" + c.SignIn + " param=" + c.SignInRedirectParam
	}
	if len(c.ResponseHeaders) > 0 {
		desc += " copy=" + strings.Join(c.ResponseHeaders, ",")
	}
	if c.RequestRedirect != "" {
		desc += " request-redirect=" + c.RequestRedirect
	}
	if c.AlwaysSetCookie {
		desc += " always-set-cookie"
	}
	for _, h := range c.SetHeaders {
		desc += fmt.Sprintf(" set=%s:%q", h.Name, h.Value)
	}
	e := &External{cfg: c, client: client}
	if len(c.CacheKey) > 0 && len(c.CacheRules) > 0 {
		e.cache = &answerCache{key: c.CacheKey, rules: c.CacheRules, m: map[string]answer{}}
		desc += fmt.Sprintf(" cache=%v", c.CacheRules)
	}
	e.desc = desc
	return e
}

// String describes the check for table dumps.
func (e *External) String() string { return e.desc }

// Facts are what the proxy knows about a request that the subrequest
// carries.
type Facts struct {
	Scheme    string // http or https
	ClientIP  string
	RequestID string
	// RouteHost and RoutePath name the route the request matched (its
	// host pattern and path): one External serves every host and path of
	// an Ingress, and its cached answers are kept per route, as
	// ingress-nginx's cache key starts with the server name and the auth
	// location of the path.
	RouteHost, RoutePath string
	RouteKind            byte // the path's match type
}

// Decision is the outcome of a check. Status 0 allows the request: Upstream
// holds the headers to set on the request sent to the backend (an empty
// value removes the client's). Otherwise the
// proxy answers Status (with Location for a sign-in redirect and
// WWWAuthenticate for a 401). SetCookie goes on the answer in both cases.
type Decision struct {
	Status          int
	Location        string
	WWWAuthenticate []string
	Upstream        http.Header
	SetCookie       []string
	Err             error // why the check failed (500), for the log
}

// Check asks the auth service about r (or its cache).
func (e *External) Check(ctx context.Context, r *http.Request, f Facts) Decision {
	var key string
	now := time.Now()
	if e.cache != nil {
		key = e.cache.render(r, f)
		if a, ok := e.cache.get(key, now); ok {
			return e.decide(a, r, f)
		}
	}
	a, err := e.ask(ctx, r, f)
	if err != nil {
		return Decision{Status: http.StatusInternalServerError, Err: err}
	}
	if e.cache != nil {
		e.cache.put(key, a, now)
	}
	return e.decide(a, r, f)
}

// ask sends the subrequest and keeps what a decision needs.
func (e *External) ask(ctx context.Context, r *http.Request, f Facts) (answer, error) {
	sub, err := e.subrequest(ctx, r, f)
	if err != nil {
		return answer{}, err
	}
	resp, err := e.client.Do(sub)
	if err != nil {
		return answer{}, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	a := answer{status: resp.StatusCode, cookies: resp.Header["Set-Cookie"], header: http.Header{}}
	for _, h := range e.cfg.ResponseHeaders {
		if v := resp.Header.Get(h); v != "" {
			a.header.Set(h, v)
		}
	}
	if v := resp.Header["Www-Authenticate"]; len(v) > 0 {
		a.header["Www-Authenticate"] = v
	}
	return a, nil
}

// decide turns an answer into a decision for r.
func (e *External) decide(a answer, r *http.Request, f Facts) Decision {
	switch code := a.status; {
	case code >= 200 && code < 300:
		// Every listed header is replaced: a client cannot send its own
		// X-Auth-Request-User when the auth service names nobody.
		d := Decision{SetCookie: a.cookies, Upstream: http.Header{}}
		for _, h := range e.cfg.ResponseHeaders {
			k := http.CanonicalHeaderKey(h)
			d.Upstream[k] = a.header[k]
		}
		return d
	case code == http.StatusUnauthorized && e.cfg.SignIn != "":
		return Decision{Status: http.StatusFound, Location: e.signIn(r, f), SetCookie: a.cookies}
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		d := Decision{Status: code, WWWAuthenticate: a.header["Www-Authenticate"]}
		if e.cfg.AlwaysSetCookie {
			d.SetCookie = a.cookies
		}
		return d
	default:
		return Decision{Status: http.StatusInternalServerError, Err: &StatusError{Code: code}}
	}
}

// StatusError is an auth service answer that is neither 2xx, 401 nor 403.
type StatusError struct{ Code int }

func (e *StatusError) Error() string { return "auth service answered " + http.StatusText(e.Code) }

// subrequest builds the request to the auth service: the client's headers
// (cookies and authorization included) without its body, and the facts
// ingress-nginx sends.
func (e *External) subrequest(ctx context.Context, r *http.Request, f Facts) (*http.Request, error) {
	sub, err := http.NewRequestWithContext(ctx, e.cfg.Method, expand(e.cfg.URL, r, f), nil)
	if err != nil {
		return nil, err
	}
	// A copy of the values: the transport's goroutines may read the
	// subrequest's header after RoundTrip returned, and Weir's HTTP/1.x
	// server reuses the client's header memory for its next request.
	if h := r.Header.Clone(); h != nil {
		for k := range h {
			// A name with "_" is one an auth service built on CGI, WSGI
			// or Rack reads as the "-" name it may decide by
			// (X_Original_URL as X-Original-URL): never passed, as
			// the proxy drops them by default toward backends.
			if skipHeader[k] || strings.IndexByte(k, '_') >= 0 {
				delete(h, k)
			}
		}
		sub.Header = h
	}
	h := sub.Header
	for _, sh := range e.cfg.SetHeaders {
		if sh.Value == "" {
			delete(h, sh.Name)
			continue
		}
		h[sh.Name] = []string{expand(sh.Value, r, f)}
	}
	uri := requestURI(r)
	h.Set("X-Original-URL", f.Scheme+"://"+r.Host+uri)
	h.Set("X-Original-Method", r.Method)
	h.Set("X-Sent-From", "nginx-ingress-controller")
	h.Set("X-Real-IP", f.ClientIP)
	h.Set("X-Forwarded-For", f.ClientIP)
	h.Set("X-Forwarded-Host", r.Host)
	h.Set("X-Request-ID", f.RequestID)
	redirect := e.cfg.RequestRedirect
	if redirect == "" {
		redirect = uri
	}
	h.Set("X-Auth-Request-Redirect", redirect)
	if e.cfg.Method != http.MethodGet {
		h.Set("X-Original-URI", uri)
		h.Set("X-Scheme", f.Scheme)
	}
	return sub, nil
}

// skipHeader are client headers not passed to the auth service: hop-by-hop
// ones, the body's framing (no body is sent), and forwarding facts Weir sets.
var skipHeader = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true, "Content-Length": true, "Expect": true, "Host": true,
	"X-Forwarded-Proto": true, "X-Forwarded-For": true, "X-Real-Ip": true, "X-Forwarded-Host": true,
	"X-Forwarded-Port": true, "Proxy-Authorization": true,
	// httpoxy (CVE-2016-5385), and a scheme some frameworks read before
	// X-Forwarded-Proto: never forwarded from a client.
	"Proxy": true, "X-Forwarded-Scheme": true,
	// Facts about the original request are Weir's alone: a client's own
	// values could steer the auth service's decision.
	"X-Original-Url": true, "X-Original-Uri": true, "X-Original-Method": true, "X-Scheme": true,
	"X-Forwarded-Uri": true, "X-Forwarded-Method": true, "X-Auth-Request-Redirect": true, "X-Sent-From": true,
	"X-Request-Id": true,
}

// signIn is the sign-in redirect: auth-signin with the original URL in its
// redirect parameter, unless the URL already carries that parameter.
func (e *External) signIn(r *http.Request, f Facts) string {
	target := expand(e.cfg.SignIn, r, f)
	u, err := url.Parse(target)
	if err == nil && u.Query().Get(e.cfg.SignInRedirectParam) != "" {
		return target
	}
	sep := "?"
	if err == nil && u.RawQuery != "" {
		sep = "&"
	}
	return target + sep + e.cfg.SignInRedirectParam + "=" + f.Scheme + "://" + r.Host + url.QueryEscape(requestURI(r))
}

func requestURI(r *http.Request) string {
	if strings.HasPrefix(r.RequestURI, "/") {
		return r.RequestURI
	}
	return r.URL.RequestURI()
}

// expand replaces the nginx variables auth-url and auth-signin may hold.
func expand(s string, r *http.Request, f Facts) string {
	if !strings.Contains(s, "$") {
		return s
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	uri := requestURI(r)
	return strings.NewReplacer(
		"$escaped_request_uri", url.QueryEscape(uri), "$pass_access_scheme", f.Scheme, "$best_http_host", r.Host,
		"$request_uri", uri, "$http_host", r.Host, "$scheme", f.Scheme, "$host", strings.ToLower(host),
	).Replace(s)
}
