package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/annotations"
)

func TestExpandAndSignIn(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "http://App.Example.com:8443/a/b?x=1&y=2", nil)
	f := Facts{Scheme: "https", ClientIP: "192.0.2.1", RequestID: "rid"}
	assert.Equal(t, "https://app.example.com/oauth2/auth?u=%2Fa%2Fb%3Fx%3D1%26y%3D2",
		expand("$scheme://$host/oauth2/auth?u=$escaped_request_uri", r, f))
	assert.Equal(t, "http://App.Example.com:8443/a/b?x=1&y=2", expand("http://$http_host$request_uri", r, f))

	for signin, want := range map[string]string{
		"https://login.example/start":                 "https://login.example/start?rd=https://App.Example.com:8443%2Fa%2Fb%3Fx%3D1%26y%3D2",
		"https://login.example/start?client=a":        "https://login.example/start?client=a&rd=https://App.Example.com:8443%2Fa%2Fb%3Fx%3D1%26y%3D2",
		"https://$host/start?rd=$escaped_request_uri": "https://app.example.com/start?rd=%2Fa%2Fb%3Fx%3D1%26y%3D2",
	} {
		e := NewExternal(ExternalConfig{URL: "http://auth/", SignIn: signin})
		assert.Equal(t, want, e.signIn(r, f), signin)
	}
	e := NewExternal(ExternalConfig{URL: "http://auth/", SignIn: "/login", SignInRedirectParam: "next"})
	assert.Equal(t, "/login?next=https://App.Example.com:8443%2Fa%2Fb%3Fx%3D1%26y%3D2", e.signIn(r, f))
}

func TestSubrequestHeaders(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		w.Header().Set("X-User", "u")
		w.Header().Set("X-Secret", "s")
	}))
	defer srv.Close()
	e := NewExternal(ExternalConfig{URL: srv.URL + "/check", Method: "POST", ResponseHeaders: []string{"X-User", "X-Missing"},
		RequestRedirect: "https://app/after"})
	r := httptest.NewRequest(http.MethodPut, "http://app.example/p?q", nil)
	r.Header.Set("Authorization", "Bearer t")
	r.Header.Set("Cookie", "s=1")
	r.Header.Set("X-Forwarded-For", "6.6.6.6")
	r.Header.Set("X-Forwarded-Proto", "https")
	r.Header.Set("Content-Length", "5")
	r.Header.Set("X-Forwarded-Uri", "/public")
	r.Header.Set("X-Original-Url", "http://app.example/public")
	d := e.Check(context.Background(), r, Facts{Scheme: "http", ClientIP: "192.0.2.1", RequestID: "rid"})
	require.Zero(t, d.Status, "%v", d.Err)
	assert.Equal(t, http.Header{"X-User": {"u"}, "X-Missing": nil}, d.Upstream, "only listed headers; absent ones are removed from the request")
	assert.Equal(t, "POST", got.Method)
	for k, v := range map[string]string{
		"X-Original-Url": "http://app.example/p?q", "X-Original-Method": "PUT", "X-Original-Uri": "/p?q", "X-Scheme": "http",
		"X-Auth-Request-Redirect": "https://app/after", "X-Forwarded-For": "192.0.2.1", "X-Real-Ip": "192.0.2.1",
		"X-Request-Id": "rid", "Authorization": "Bearer t", "Cookie": "s=1", "X-Forwarded-Proto": "", "X-Sent-From": "nginx-ingress-controller",
	} {
		assert.Equal(t, v, got.Header.Get(k), k)
	}
	assert.Zero(t, got.ContentLength)
	assert.Empty(t, got.Header.Get("X-Forwarded-Uri"), "a client's own facts never reach the auth service")
}

func TestAnswerCache(t *testing.T) {
	var asked atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		switch r.Header.Get("Authorization") {
		case "Bearer good":
			w.Header().Set("X-User", "u")
		case "Bearer refresh":
			w.Header().Set("Set-Cookie", "s=2")
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	e := NewExternal(ExternalConfig{URL: srv.URL, SignIn: "https://login/", ResponseHeaders: []string{"X-User"},
		CacheKey:   []KeyPart{{Kind: annotations.KeyHeader, Name: "Authorization"}},
		CacheRules: []CacheRule{{Statuses: []int{200, 202}, TTL: time.Hour}, {Statuses: []int{401}, TTL: time.Hour}}})
	check := func(authz, path string) Decision {
		r := httptest.NewRequest(http.MethodGet, "http://app"+path, nil)
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		return e.Check(context.Background(), r, Facts{Scheme: "https"})
	}
	for i := 0; i < 3; i++ {
		d := check("Bearer good", "/")
		assert.Zero(t, d.Status)
		assert.Equal(t, "u", d.Upstream.Get("X-User"))
	}
	assert.Equal(t, int64(1), asked.Load(), "a cached answer is reused")
	assert.Equal(t, "https://login/?rd=https://app%2Fa", check("", "/a").Location)
	assert.Equal(t, "https://login/?rd=https://app%2Fb", check("", "/b").Location, "the sign-in URL is built per request from a cached 401")
	assert.Equal(t, int64(2), asked.Load())
	check("Bearer refresh", "/")
	check("Bearer refresh", "/")
	assert.Equal(t, int64(4), asked.Load(), "answers that set cookies are not cached")
}

// auth-proxy-set-headers: each header replaces the client's (an empty
// value removes it), variables expand per request, and Weir's own facts
// about the request always win.
func TestSubrequestSetHeaders(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer srv.Close()
	e := NewExternal(ExternalConfig{URL: srv.URL, SetHeaders: []Header{
		{Name: "x-tenant", Value: "blue"}, {Name: "Cookie", Value: ""}, {Name: "X-Uri", Value: "$scheme://$host$request_uri"},
		{Name: "X-Original-Url", Value: "http://evil/"},
	}})
	assert.Contains(t, e.String(), `set=X-Tenant:"blue"`)
	r := httptest.NewRequest(http.MethodGet, "http://App.example/p?q=1", nil)
	r.Header.Set("X-Tenant", "client")
	r.Header.Set("Cookie", "s=1")
	d := e.Check(context.Background(), r, Facts{Scheme: "https", ClientIP: "192.0.2.1"})
	require.Zero(t, d.Status, "%v", d.Err)
	assert.Equal(t, "blue", got.Get("X-Tenant"))
	assert.Empty(t, got.Values("Cookie"))
	assert.Equal(t, "https://app.example/p?q=1", got.Get("X-Uri"))
	assert.Equal(t, "https://App.example/p?q=1", got.Get("X-Original-Url"), "Weir's facts win")
}

// TestSubrequestOwnsItsHeaderValues: the auth subrequest's header holds
// copies of the client's values: net/http's transport may still be writing
// it after RoundTrip returned, while Weir's HTTP/1.x server reuses the
// client's header memory for the connection's next request.
func TestSubrequestOwnsItsHeaderValues(t *testing.T) {
	e := NewExternal(ExternalConfig{URL: "http://auth.test/check", Method: "GET"})
	r := httptest.NewRequest(http.MethodGet, "http://app.example/p", nil)
	r.Header = http.Header{"Authorization": {"Bearer t"}, "Cookie": {"s=1"}, "Content-Length": {"5"}}
	sub, err := e.subrequest(context.Background(), r, Facts{Scheme: "http", ClientIP: "192.0.2.1", RequestID: "rid"})
	require.NoError(t, err)
	r.Header["Authorization"][0], r.Header["Cookie"][0] = "Bearer other", "s=2"
	assert.Equal(t, "Bearer t", sub.Header.Get("Authorization"))
	assert.Equal(t, "s=1", sub.Header.Get("Cookie"))
	assert.Empty(t, sub.Header.Get("Content-Length"), "a skipped field stays out")
}

// TestRemoteUserCacheKeyNeedsThePassword: $remote_user in auth-cache-key is
// the user name a client claims; a cached allow for alice's credentials must
// not serve a request naming alice with a wrong password.
func TestRemoteUserCacheKeyNeedsThePassword(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "secret" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	e := NewExternal(ExternalConfig{URL: srv.URL,
		CacheKey:   []KeyPart{{Kind: annotations.KeyRemoteUser}},
		CacheRules: []CacheRule{{Statuses: []int{200}, TTL: time.Hour}}})
	check := func(user, password string) int {
		r := httptest.NewRequest(http.MethodGet, "http://app/", nil)
		r.SetBasicAuth(user, password)
		return e.Check(context.Background(), r, Facts{Scheme: "https"}).Status
	}
	require.Zero(t, check("alice", "secret"))
	assert.Equal(t, http.StatusUnauthorized, check("alice", "guess"), "a claimed name is not a proof")
}

// TestAnswerCacheKeysAreBounded: a cached answer's key must not keep the
// request's values themselves. Any client can have a 401 cached (the
// default auth-cache-duration keeps 401s for 5 minutes) under a key
// holding a header of up to the request header limit: 4,096 such answers
// held about 128 MiB per Ingress, and every cached key kept a client's
// credentials in memory.
func TestAnswerCacheKeysAreBounded(t *testing.T) {
	var asked atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	e := NewExternal(ExternalConfig{URL: srv.URL,
		CacheKey:   []KeyPart{{Kind: annotations.KeyHeader, Name: "Authorization"}},
		CacheRules: []CacheRule{{Statuses: []int{401}, TTL: time.Hour}}})
	big := "Bearer " + strings.Repeat("x", 30<<10)
	for range 2 {
		r := httptest.NewRequest(http.MethodGet, "http://app/", nil)
		r.Header.Set("Authorization", big)
		assert.Equal(t, http.StatusUnauthorized, e.Check(context.Background(), r, Facts{Scheme: "https"}).Status)
	}
	assert.Equal(t, int64(1), asked.Load(), "the answer is cached")
	e.cache.mu.Lock()
	defer e.cache.mu.Unlock()
	for k := range e.cache.m {
		assert.LessOrEqual(t, len(k), 64, "a cached key holds a digest, not the request's values")
	}
}

// TestSubrequestDropsMadeUpFacts: what Weir never forwards to a backend
// must not reach the auth service either: a header name with "_" (a CGI,
// WSGI or Rack auth service reads X_Original_URL as X-Original-URL, the
// fact it decides by), Proxy (httpoxy) and X-Forwarded-Scheme.
func TestSubrequestDropsMadeUpFacts(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
	}))
	defer srv.Close()
	e := NewExternal(ExternalConfig{URL: srv.URL})
	r := httptest.NewRequest(http.MethodGet, "http://app.example/admin", nil)
	r.Header["X_original_url"] = []string{"http://app.example/public"}
	r.Header["X_auth_request_redirect"] = []string{"/public"}
	r.Header.Set("Proxy", "http://evil.test:3128")
	r.Header.Set("X-Forwarded-Scheme", "https")
	d := e.Check(context.Background(), r, Facts{Scheme: "http", ClientIP: "192.0.2.1", RequestID: "rid"})
	require.Zero(t, d.Status, "%v", d.Err)
	assert.Equal(t, "http://app.example/admin", got.Get("X-Original-Url"))
	for _, k := range []string{"X_original_url", "X_auth_request_redirect", "Proxy", "X-Forwarded-Scheme"} {
		assert.Empty(t, got[k], k)
	}
}
