package proxy

import (
	"crypto/md5"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/annotations"
	"weir.dev/weir/proxy/auth"
	"weir.dev/weir/proxy/cors"
	"weir.dev/weir/proxy/ratelimit"
	"weir.dev/weir/proxy/table"
)

// echo answers with what it saw, counts its requests and sets a cookie of
// its own.
func echo(t *testing.T, hits *atomic.Int64) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Add("Set-Cookie", "app=1")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Vary", "Accept-Encoding")
		w.Write([]byte("backend " + r.Method + " user=" + r.Header.Get("X-Auth-Request-User") +
			" authz=" + r.Header.Get("Authorization") + " cookie=" + r.Header.Get("Cookie")))
	}))
	t.Cleanup(s.Close)
	return s
}

// oauthServer is a small oauth2-proxy: /auth allows the session cookie,
// /start signs in by setting it and redirecting to rd.
type oauthServer struct {
	*httptest.Server
	mu   sync.Mutex
	seen []*http.Request
}

func newOAuthServer(t *testing.T) *oauthServer {
	o := &oauthServer{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/auth":
			o.mu.Lock()
			o.seen = append(o.seen, r.Clone(r.Context()))
			o.mu.Unlock()
			c, _ := r.Cookie("session")
			switch {
			case c == nil:
				w.Header().Set("WWW-Authenticate", `Bearer realm="x"`)
				w.WriteHeader(http.StatusUnauthorized)
			case c.Value == "alice":
				w.Header().Set("X-Auth-Request-User", "alice")
				w.Header().Set("X-Not-Listed", "leak")
				w.Header().Add("Set-Cookie", "session=alice; Max-Age=60")
			case c.Value == "nobody-named":
			case c.Value == "banned":
				w.WriteHeader(http.StatusForbidden)
			default:
				w.WriteHeader(http.StatusTeapot)
			}
		case "/start":
			http.SetCookie(w, &http.Cookie{Name: "session", Value: "alice"})
			http.Redirect(w, r, r.URL.Query().Get("rd"), http.StatusFound)
		}
	}))
	t.Cleanup(o.Close)
	return o
}

// clientRequest is a request as a client would send it through Weir.
func clientRequest(method, target string, body io.Reader) *http.Request {
	r := httptest.NewRequest(method, target, body)
	r.RequestURI = ""
	return r
}

// doNoFollow sends req through Weir without following redirects.
func doNoFollow(t *testing.T, h *harness, req *http.Request) *http.Response {
	u, _ := url.Parse(h.front.URL)
	req.URL.Scheme, req.URL.Host = "http", u.Host
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

func (o *oauthServer) last() *http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.seen[len(o.seen)-1]
}

func TestExternalAuthSignInFlow(t *testing.T) {
	h := newHarness(t, Options{})
	var hits atomic.Int64
	oauth := newOAuthServer(t)
	rt := routeTo("app.test", "/", backendOf("app", echo(t, &hits)))
	rt.Action.ExternalAuth = auth.NewExternal(auth.ExternalConfig{URL: oauth.URL + "/auth",
		SignIn: oauth.URL + "/start", ResponseHeaders: []string{"X-Auth-Request-User"}})
	h.publish(rt)

	// Not signed in: a 302 to sign-in carrying the original URL.
	req := clientRequest(http.MethodGet, "http://app.test/private?a=1", nil)
	resp := doNoFollow(t, h, req)
	require.Equal(t, http.StatusFound, resp.StatusCode)
	loc, err := url.Parse(resp.Header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "/start", loc.Path)
	assert.Equal(t, "http://app.test/private?a=1", loc.Query().Get("rd"))
	assert.Zero(t, hits.Load(), "the backend is never reached without authentication")

	sub := oauth.last()
	assert.Equal(t, http.MethodGet, sub.Method)
	assert.Equal(t, "http://app.test/private?a=1", sub.Header.Get("X-Original-URL"))
	assert.Equal(t, "GET", sub.Header.Get("X-Original-Method"))
	assert.Equal(t, "/private?a=1", sub.Header.Get("X-Auth-Request-Redirect"))
	assert.Equal(t, "127.0.0.1", sub.Header.Get("X-Forwarded-For"))
	assert.NotEmpty(t, sub.Header.Get("X-Request-Id"))

	// Sign in at the auth server, as a browser following the redirect would.
	signin, err := http.Get(loc.String()[:strings.Index(loc.String(), "?")] + "?rd=/")
	require.NoError(t, err)
	signin.Body.Close()
	var session string
	for _, c := range signin.Request.Response.Cookies() {
		session = c.Value
	}
	require.Equal(t, "alice", session)

	// Signed in: the backend is reached with the listed header only, and the
	// client gets both the auth service's and the backend's cookies.
	req = clientRequest(http.MethodPost, "http://app.test/private", strings.NewReader("body"))
	req.Header.Set("Cookie", "session="+session)
	resp, body := h.do(req)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "backend POST user=alice authz= cookie=session=alice", body)
	assert.ElementsMatch(t, []string{"app=1", "session=alice; Max-Age=60"}, resp.Header.Values("Set-Cookie"))
	assert.Equal(t, "POST", oauth.last().Header.Get("X-Original-Method"))
	assert.Empty(t, oauth.last().Header.Get("Content-Length"), "the subrequest has no body")
	assert.Equal(t, int64(1), hits.Load())

	// A client cannot name itself: the listed header is the auth
	// service's or none.
	req = clientRequest(http.MethodGet, "http://app.test/", nil)
	req.Header.Set("Cookie", "session=nobody-named")
	req.Header.Set("X-Auth-Request-User", "admin")
	_, body = h.do(req)
	assert.Equal(t, "backend GET user= authz= cookie=session=nobody-named", body)

	code, _ := h.get("app.test", "/", "Cookie", "session=banned")
	assert.Equal(t, http.StatusForbidden, code)
	code, _ = h.get("app.test", "/", "Cookie", "session=teapot")
	assert.Equal(t, http.StatusInternalServerError, code, "any other answer of the auth service is 500")
	assert.Equal(t, int64(2), hits.Load())
}

func TestExternalAuthWithoutSignInAndUnreachable(t *testing.T) {
	h := newHarness(t, Options{})
	var hits atomic.Int64
	oauth := newOAuthServer(t)
	rt := routeTo("app.test", "/", backendOf("app", echo(t, &hits)))
	rt.Action.ExternalAuth = auth.NewExternal(auth.ExternalConfig{URL: oauth.URL + "/auth"})
	h.publish(rt)
	req := clientRequest(http.MethodGet, "http://app.test/", nil)
	resp, _ := h.do(req)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, `Bearer realm="x"`, resp.Header.Get("WWW-Authenticate"))

	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	rt = routeTo("app.test", "/", backendOf("app", echo(t, &hits)))
	rt.Action.ExternalAuth = auth.NewExternal(auth.ExternalConfig{URL: dead.URL + "/auth"})
	h.publish(rt)
	code, _ := h.get("app.test", "/", "Cookie", "session=alice")
	assert.Equal(t, http.StatusInternalServerError, code, "an unreachable auth service fails closed")
	assert.Zero(t, hits.Load())
}

// behindAuth serves app.test through a, with a counting backend.
func behindAuth(t *testing.T, a *auth.Basic) (*harness, *atomic.Int64) {
	h := newHarness(t, Options{})
	hits := &atomic.Int64{}
	rt := routeTo("app.test", "/", backendOf("app", echo(t, hits)))
	rt.Action.BasicAuth = a
	h.publish(rt)
	return h, hits
}

func TestBasicAuthThroughTheProxy(t *testing.T) {
	users, errs := auth.ParseHtpasswd([]byte("bob:$apr1$saltsalt$LrttParrLPdxvgutaSXWJ0\n"))
	require.Empty(t, errs)
	h, hits := behindAuth(t, auth.NewBasic(users, "Staff", "test"))

	req := clientRequest(http.MethodGet, "http://app.test/", nil)
	resp, _ := h.do(req)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, `Basic realm="Staff"`, resp.Header.Get("WWW-Authenticate"))
	req.SetBasicAuth("bob", "wrong")
	resp, _ = h.do(req)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Zero(t, hits.Load())

	req.SetBasicAuth("bob", "secret")
	resp, body := h.do(req)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "backend GET user= authz= cookie=", body, "the credentials are not forwarded")
	assert.Equal(t, int64(1), hits.Load())
}

func TestCORSThroughTheProxy(t *testing.T) {
	h := newHarness(t, Options{})
	var hits atomic.Int64
	rt := routeTo("app.test", "/", backendOf("app", echo(t, &hits)))
	rt.Action.CORS = cors.New(cors.Config{AllowOrigins: []string{"https://*.example.com"}, AllowMethods: "GET, POST",
		AllowHeaders: "X-A", AllowCredentials: true, MaxAge: 60})
	users, _ := auth.ParseHtpasswd([]byte("bob:{PLAIN}pw"))
	rt.Action.BasicAuth = auth.NewBasic(users, "", "test")
	h.publish(rt)

	preflight := clientRequest(http.MethodOptions, "http://app.test/api", nil)
	preflight.Header.Set("Origin", "https://web.example.com")
	preflight.Header.Set("Access-Control-Request-Method", "POST")
	resp, body := h.do(preflight)
	assert.Equal(t, http.StatusNoContent, resp.StatusCode, "answered by Weir, before authentication as in nginx")
	assert.Empty(t, body)
	assert.Equal(t, "https://web.example.com", resp.Header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "GET, POST", resp.Header.Get("Access-Control-Allow-Methods"))
	assert.Equal(t, "60", resp.Header.Get("Access-Control-Max-Age"))
	assert.Zero(t, hits.Load(), "a preflight never reaches the backend")

	req := clientRequest(http.MethodGet, "http://app.test/api", nil)
	req.Header.Set("Origin", "https://web.example.com")
	req.SetBasicAuth("bob", "pw")
	resp, _ = h.do(req)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "https://web.example.com", resp.Header.Get("Access-Control-Allow-Origin"), "the annotation's value replaces the backend's, as in nginx")
	assert.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"))
	assert.Equal(t, []string{"Accept-Encoding", "Origin"}, resp.Header.Values("Vary"))

	req.Header.Set("Origin", "https://evil.test")
	resp, _ = h.do(req)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Empty(t, resp.Header.Get("Access-Control-Allow-Credentials"), "no CORS headers for another origin")
	assert.Equal(t, []string{"Accept-Encoding", "Origin"}, resp.Header.Values("Vary"),
		"the answer still depends on Origin: a cache must not give it to an allowed origin")
	preflight.Header.Set("Origin", "https://evil.test")
	resp, _ = h.do(preflight)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a preflight from another origin is an ordinary request")
}

func TestRateLimitThroughTheProxy(t *testing.T) {
	h := newHarness(t, Options{})
	var hits atomic.Int64
	rt := routeTo("app.test", "/", backendOf("app", echo(t, &hits)))
	rt.Action.RateLimit = ratelimit.New(ratelimit.Config{RPM: 1, BurstMultiplier: 2})
	exempt := routeTo("free.test", "/", backendOf("app", echo(t, &hits)))
	exempt.Action.RateLimit = ratelimit.New(ratelimit.Config{RPM: 1, BurstMultiplier: 1,
		Allowlist: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	h.publish(rt, exempt)
	var codes []int
	for i := 0; i < 5; i++ {
		code, _ := h.get("app.test", "/")
		codes = append(codes, code)
	}
	assert.Equal(t, []int{200, 200, 200, 503, 503}, codes, "a burst of rate×multiplier beyond the first, then 503")
	for i := 0; i < 5; i++ {
		code, _ := h.get("free.test", "/")
		assert.Equal(t, 200, code, "allowlisted clients are not limited")
	}
}

// limit-req-status-code and limit-conn-status-code (the global ConfigMap)
// choose the status of a refused request: one for a rate, one for
// limit-connections.
func TestRateLimitStatusCodes(t *testing.T) {
	h := newHarness(t, Options{})
	release, held, inside := make(chan struct{}), make(chan struct{}), make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inside <- struct{}{}
		<-release
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release); <-held })
	var hits atomic.Int64
	rate := routeTo("rate.test", "/", backendOf("app", echo(t, &hits)))
	rate.Action.RateLimit = ratelimit.New(ratelimit.Config{RPM: 1, BurstMultiplier: 1})
	conns := routeTo("conn.test", "/", backendOf("slow", slow))
	conns.Action.RateLimit = ratelimit.New(ratelimit.Config{Connections: 1})
	h.publish(rate, conns)
	h.srv.SetGlobal(&Global{LimitReqStatus: 429, LimitConnStatus: 509})

	var codes []int
	for range 4 {
		code, _ := h.get("rate.test", "/")
		codes = append(codes, code)
	}
	assert.Equal(t, []int{200, 200, 429, 429}, codes, "a burst, then over the rate: limit-req-status-code")

	go func() { // holds the one connection until the test ends
		defer close(held)
		req, _ := http.NewRequest(http.MethodGet, h.front.URL+"/", nil)
		req.Host = "conn.test"
		if resp, err := h.front.Client().Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	<-inside
	code, _ := h.get("conn.test", "/")
	assert.Equal(t, 509, code, "over limit-connections: limit-conn-status-code")

	h.srv.SetGlobal(nil)
	code, _ = h.get("rate.test", "/")
	assert.Equal(t, http.StatusServiceUnavailable, code, "ingress-nginx's default")
}

// A route without access annotations pays nothing for them.
func TestAccessFastPathAllocatesNothing(t *testing.T) {
	s := &Server{}
	a := &table.Action{}
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	ex := &exchange{}
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		if _, ok := s.access(w, r, a, ex); ok {
			s.releaseAccess(a, ex)
		}
	}))
}

// BenchmarkAccess compares a route without access annotations (the fast
// path) with routes that use them.
func BenchmarkAccess(b *testing.B) {
	users, _ := auth.ParseHtpasswd([]byte("bob:{PLAIN}pw"))
	for _, c := range []struct {
		name string
		a    *table.Action
	}{
		{"none", &table.Action{}},
		{"cors", &table.Action{CORS: cors.New(cors.Config{AllowOrigins: []string{"https://*.example.com"}})}},
		{"ratelimit", &table.Action{RateLimit: ratelimit.New(ratelimit.Config{RPS: 1 << 30, Connections: 1 << 20})}},
		{"basic", &table.Action{BasicAuth: auth.NewBasic(users, "", "bench")}},
	} {
		b.Run(c.name, func(b *testing.B) {
			s := &Server{}
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Origin", "https://a.example.com")
			ex := &exchange{info: requestInfo{clientIP: "192.0.2.1"}}
			r.SetBasicAuth("bob", "pw")
			authz := r.Header["Authorization"]
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				r.Header["Authorization"] = authz
				if _, ok := s.access(w, r, c.a, ex); ok {
					s.releaseAccess(c.a, ex)
				}
			}
		})
	}
}

func TestLimitRateThroughTheProxy(t *testing.T) {
	h := newHarness(t, Options{})
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 3000))
	}))
	t.Cleanup(big.Close)
	rt := routeTo("app.test", "/", backendOf("big", big))
	rt.Action.RateLimit = ratelimit.New(ratelimit.Config{RateBytes: 10000, RateAfterBytes: 1000})
	h.publish(rt)
	start := time.Now()
	code, body := h.get("app.test", "/")
	assert.Equal(t, http.StatusOK, code)
	assert.Len(t, body, 3000)
	// 2000 paced bytes at 10,000 B/s: at least 0.2 s (a lower bound only).
	assert.GreaterOrEqual(t, time.Since(start), 190*time.Millisecond)
}

func TestDigestAuthThroughTheProxy(t *testing.T) {
	ha1 := md5.Sum([]byte("bob:Staff:secret"))
	users, _ := auth.ParseHtdigest([]byte("bob:Staff:"+hex.EncodeToString(ha1[:])), "Staff")
	h, hits := behindAuth(t, auth.NewDigest(users, "Staff", "test"))

	req := clientRequest(http.MethodGet, "http://app.test/x", nil)
	resp, _ := h.do(req)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	nonce := regexp.MustCompile(`nonce="([^"]+)"`).FindStringSubmatch(resp.Header.Get("WWW-Authenticate"))[1]
	hash := func(s string) string { sum := md5.Sum([]byte(s)); return hex.EncodeToString(sum[:]) }
	response := hash(hex.EncodeToString(ha1[:]) + ":" + nonce + ":00000001:abc:auth:" + hash("GET:/x"))
	req.Header.Set("Authorization", `Digest username="bob", realm="Staff", nonce="`+nonce+`", uri="/x", qop=auth, nc=00000001, cnonce="abc", response="`+response+`"`)
	resp, body := h.do(req)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "backend GET user= authz= cookie=", body, "the credentials are not forwarded")
	assert.Equal(t, int64(1), hits.Load())
}

// TestAuthCacheIsPerHostAndPath: the translator gives every host and path
// of an Ingress one External, so its answer cache must keep them apart, as
// ingress-nginx's key (server name, auth location of the path, then
// auth-cache-key) does: an allowed answer for bob on app.test/ must not
// let bob into app.test/admin or other.test/, which the auth service
// refuses him.
func TestAuthCacheIsPerHostAndPath(t *testing.T) {
	h := newHarness(t, Options{})
	var hits, asked atomic.Int64
	authSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if r.Header.Get("Cookie") == "session=bob" && r.Header.Get("X-Original-Url") == "http://app.test/" {
			return
		}
		w.WriteHeader(http.StatusForbidden)
	}))
	t.Cleanup(authSrv.Close)
	ext := auth.NewExternal(auth.ExternalConfig{URL: authSrv.URL + "/auth",
		CacheKey:   []auth.KeyPart{{Kind: annotations.KeyCookie, Name: "session"}},
		CacheRules: []auth.CacheRule{{Statuses: []int{200}, TTL: time.Hour}}})
	b := backendOf("app", echo(t, &hits))
	var routes []*table.Route
	for _, hp := range [][2]string{{"app.test", "/"}, {"app.test", "/admin"}, {"other.test", "/"}} {
		rt := routeTo(hp[0], hp[1], b)
		rt.Action.ExternalAuth = ext
		routes = append(routes, rt)
	}
	h.publish(routes...)
	code, _ := h.get("app.test", "/", "Cookie", "session=bob")
	require.Equal(t, http.StatusOK, code)
	code, _ = h.get("app.test", "/admin", "Cookie", "session=bob")
	assert.Equal(t, http.StatusForbidden, code, "another path of the Ingress is asked about")
	code, _ = h.get("other.test", "/", "Cookie", "session=bob")
	assert.Equal(t, http.StatusForbidden, code, "another host of the Ingress is asked about")
	assert.Equal(t, int64(1), hits.Load())
}
