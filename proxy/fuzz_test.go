package proxy

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"weir.dev/weir/proxy/endpoint"
	"weir.dev/weir/proxy/table"
)

// latin1 decodes b byte for byte, so that the reference regular
// expressions below can name any byte (obs-text included) as a rune.
func latin1(s string) string {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

// The request grammar, transcribed from the RFCs independently of
// validate.go's byte loops.
var (
	// RFC 9110 section 5.6.2: token = 1*tchar.
	reToken = regexp.MustCompile("^[!#$%&'*+\\-.^_`|~0-9A-Za-z]+$")
	// RFC 9110 section 5.5: field-value = *( field-vchar / SP / HTAB ),
	// field-vchar = VCHAR / obs-text.
	reFieldValue = regexp.MustCompile(`^[\t\x{20}-\x{7e}\x{80}-\x{ff}]*$`)
	// RFC 9112 section 3.2.1 and RFC 3986: origin-form, strictly.
	reOriginStrict = regexp.MustCompile(`^/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*` +
		`(?:\?(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*)?$`)
	// What Weir accepts in a target (validTarget's documented rule): no
	// control, space, DEL or "#", and "%" in the path starts an escape.
	reTargetRest = `(?:[^\x{00}-\x{20}\x{7f}#%?]|%[0-9A-Fa-f]{2})*(?:\?[^\x{00}-\x{20}\x{7f}#]*)?$`
	reOriginSafe = regexp.MustCompile(`^/` + reTargetRest)
	reAbsolute   = regexp.MustCompile(`^(?i:http://|https://)[^\x{00}-\x{20}\x{7f}#%?/]` + reTargetRest)
	reAbsolute2  = regexp.MustCompile(`^(?i:http://|https://)%[0-9A-Fa-f]{2}` + reTargetRest)
	// RFC 3986 section 3.2.2 and 3.2.3: host [ ":" port ], strictly.
	reHostStrict = regexp.MustCompile(`^(?:\[[0-9A-Fa-f:.]+\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?$`)
)

// FuzzRequestValidation compares checkRequest with the RFC grammar: it
// refuses every head the grammar refuses (nothing unsafe is let through),
// and accepts every head the strict grammar accepts (no valid request is
// refused).
func FuzzRequestValidation(f *testing.F) {
	f.Add("GET", "/a/b?c=d", "a.test", "x-a", "v", 1)
	f.Add("GET /admin", "/", "a.test", "x-a", "v", 2)
	f.Add("OPTIONS", "*", "a.test:80", "x-a", " v", 2)
	f.Add("POST", "http://a.test/x", "[::1]:8080", "x_a", "v\tw", 1)
	f.Add("GET", "/%zz?%zz", "a.test", "x-a", "\x80\xff", 1)
	f.Add("GET", "/a#b", "a b", "x a", "a\r\nb", 2)
	f.Add("CONNECT", "a.test:443", "a.test:443", "x-a", "v", 1)
	f.Add("GET", "http:///", "a.test", "x-a", "v", 1)
	f.Add("GET", "https://?q", "a.test", "x-a", "v", 1)
	f.Fuzz(func(t *testing.T, method, target, host, name, value string, proto int) {
		major := 1 + proto&1
		r := &http.Request{Method: method, RequestURI: target, Host: host, ProtoMajor: major,
			Header: http.Header{name: {value}}}
		status, _ := checkRequest(r)
		lv := latin1(value)
		targetOK := reOriginSafe.MatchString(latin1(target)) || target == "*" && method == "OPTIONS" ||
			major == 1 && (reAbsolute.MatchString(latin1(target)) || reAbsolute2.MatchString(latin1(target)))
		valueOK := reFieldValue.MatchString(lv) && !strings.HasPrefix(lv, " ") && !strings.HasPrefix(lv, "\t") &&
			!strings.HasSuffix(lv, " ") && !strings.HasSuffix(lv, "\t")
		want := reToken.MatchString(method) && method != "CONNECT" && targetOK && valueOK && reToken.MatchString(name)
		if got := status == 0; got && !want {
			t.Fatalf("accepted %q %q host %q %q: %q", method, target, host, name, value)
		} else if !got && want && (reOriginStrict.MatchString(target) || target == "*") && reHostStrict.MatchString(host) {
			t.Fatalf("refused (%d) a valid head %q %q host %q %q: %q", status, method, target, host, name, value)
		}
		if status == 0 && !reHostStrict.MatchString(host) && strings.ContainsAny(host, " \t\r\n\x00/?#@") {
			t.Fatalf("accepted host %q", host)
		}
		// The writer's own check agrees with the reader's on everything the
		// reader lets through.
		if status == 0 {
			out := &outgoing{req: r, info: &requestInfo{}, method: method, uri: target, host: host, underscores: true}
			if target == "*" || !strings.HasPrefix(target, "/") {
				return // buildOutgoing rewrites these through net/url
			}
			if err := checkOutgoing(out); err != nil {
				t.Fatalf("the writer refuses what the reader accepted: %v", err)
			}
		}
	})
}

// FuzzProxyHTTP1 writes arbitrary bytes on a client connection to a real
// Weir server in front of a recording backend. Nothing may panic, and
// every request that reaches the backend must be exactly one well-framed
// request whose method, target, host and body are those the proxy's own
// routing saw.
func FuzzProxyHTTP1(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n",
		"GET /x?y HTTP/1.1\r\nHost: b.test\r\n\r\nGET /z HTTP/1.1\r\nHost: a.test\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhello",
		"POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
		"POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
		"GET http://b.test/abs HTTP/1.1\r\nHost: a.test\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: a.test\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a.test\r\nX_Under: 1\r\nConnection: X-A\r\nX-A: 1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"GET /a%20b HTTP/1.1\r\nHost: a.test\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
	} {
		f.Add(byte(0), []byte(s))
		f.Add(byte(1), []byte(s))
	}
	fz := newFuzzFront(f)
	f.Fuzz(func(t *testing.T, mode byte, in []byte) {
		c, err := net.Dial("tcp", fz.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(in)
		if mode&1 == 1 {
			c.(*net.TCPConn).CloseWrite()
		}
		io.Copy(io.Discard, c)
		fz.check(t)
	})
}

// fuzzFront is a Weir server whose handler notes what the proxy's routing
// saw of each request before serving it, under a fresh random request ID
// that Weir forwards: a request at the backend without a known ID, or
// with one noted for another method, target, host or body, was not the
// request the proxy routed.
type fuzzFront struct {
	addr string
	rec  *recorder
	mu   sync.Mutex
	saw  map[string]seen // by X-Request-Id
}

func newFuzzFront(t testing.TB) *fuzzFront {
	reg := endpoint.NewRegistry(endpoint.Options{})
	t.Cleanup(reg.Close)
	srv := New(Options{ClientBodyTimeout: 50 * time.Millisecond}, reg, nil, nil)
	t.Cleanup(srv.Close)
	fz := &fuzzFront{rec: newRecorder(t), saw: make(map[string]seen)}
	be := fz.rec.backend("rec")
	tb, err := table.New(1, []*table.Route{routeTo("a.test", "/", be), routeTo("b.test", "/x", be),
		{Path: table.PathMatch{Type: table.PathPrefix, Value: "/"}, Action: &table.Action{Split: table.Split{Main: be}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv.Publish(tb)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := r.RequestURI
		if !strings.HasPrefix(target, "/") {
			target = r.URL.RequestURI()
		}
		id := newRequestID()
		r.Header["X-Request-Id"] = []string{id}
		tee := &bytes.Buffer{}
		if r.Body != nil {
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.TeeReader(r.Body, tee), r.Body}
		}
		defer func() { // also when the handler aborts
			fz.mu.Lock()
			fz.saw[id] = seen{method: r.Method, target: target, host: r.Host, body: tee.String()}
			fz.mu.Unlock()
		}()
		srv.ServeHTTP(w, r)
	})
	hs := NewHTTPServer("", h, ServerOptions{ReadHeaderTimeout: 50 * time.Millisecond, IdleTimeout: 50 * time.Millisecond,
		MaxHeaderBytes: 8 << 10}, nil)
	fz.addr = serveOn(t, hs, nil)
	return fz
}

// check matches every request the backend has read so far with the one
// the proxy routed under its ID, and forgets both.
func (fz *fuzzFront) check(t *testing.T) {
	fz.rec.mu.Lock()
	reqs, bad := fz.rec.reqs, fz.rec.bad
	fz.rec.reqs, fz.rec.bad = nil, nil
	fz.rec.mu.Unlock()
	if len(bad) > 0 {
		t.Fatalf("the backend read a malformed request: %v", bad)
	}
	for _, r := range reqs {
		id := r.header.Get("X-Request-Id")
		// The handler notes a request when it returns, which may be just
		// after the backend answered.
		deadline := time.Now().Add(2 * time.Second)
		for {
			fz.mu.Lock()
			s, ok := fz.saw[id]
			delete(fz.saw, id)
			fz.mu.Unlock()
			if ok {
				if r.method != s.method || r.target != s.target || r.host != s.host || r.body != s.body || r.proto != "HTTP/1.1" {
					t.Fatalf("the backend got %s %s %s %s [%s], the proxy routed %s %s %s [%s]",
						r.method, r.target, r.proto, r.host, r.body, s.method, s.target, s.host, s.body)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the backend got %s %s %s [%s] (ID %q), which the proxy did not route", r.method, r.target, r.host, r.body, id)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}
