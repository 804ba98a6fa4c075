package proxy

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"golang.org/x/net/http2/hpack"

	"weir.dev/weir/proxy/balance"
	"weir.dev/weir/proxy/table"
)

// strictBackend is a backend of two recording endpoints whose passive
// health ejects an endpoint at its first failure and retries everything it
// may: any blame or retry shows at once.
func strictBackend(a, b *recorder) *table.Backend {
	return &table.Backend{Name: "strict", Endpoints: []table.Endpoint{{Address: a.addr}, {Address: b.addr}},
		Passive: table.PassiveHealth{MaxFails: 1, Ejection: time.Hour},
		Retry:   table.RetryPolicy{Tries: 3, On: table.RetryError | table.RetryTimeout | table.RetryNonIdempotent}}
}

// TestClientBodyFaultsAreTheClients sends requests whose bodies cannot be
// read (issue 8 found that six of them ejected both endpoints of a Service
// and sent it into panic mode). Each gets a 4xx, no endpoint is blamed or
// ejected, no attempt is retried, and the backend still serves.
func TestClientBodyFaultsAreTheClients(t *testing.T) {
	f := newFront(t, Options{ClientBodyTimeout: 300 * time.Millisecond}, ServerOptions{})
	a, b := newRecorder(t), newRecorder(t)
	rt := routeTo("a.test", "/", strictBackend(a, b))
	rt.Action.MaxBodyBytes = 10
	f.publish(t, rt)
	const head = "POST / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n"
	const chunked = head + "Transfer-Encoding: chunked\r\n\r\n"
	cases := map[string]struct {
		in     string
		status int
	}{
		"bad chunk size":      {chunked + "zz\r\nhello\r\n0\r\n\r\n", 400},
		"chunk size overflow": {chunked + "fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n", 400},
		"negative chunk size": {chunked + "-5\r\nhello\r\n0\r\n\r\n", 400},
		"0x chunk size":       {chunked + "0x5\r\nhello\r\n0\r\n\r\n", 400},
		"bare LF after size":  {chunked + "5\nhello\r\n0\r\n\r\n", 400},
		"bad chunk end":       {chunked + "5\r\nhelloXX0\r\n\r\n", 400},

		"chunked over the size": {chunked + "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n", 413},
		"length over the size":  {head + "Content-Length: 11\r\n\r\nhello world", 413},
	}
	for round := 0; round < 2; round++ {
		for name, tc := range cases {
			out, _ := rawExchange(t, f.plain, tc.in)
			resps := responses(out, "POST")
			if assert.Len(t, resps, 1, "%s: %q", name, out) {
				assert.Equal(t, tc.status, resps[0].StatusCode, name)
			}
		}
	}
	// A client that ends its side of the connection mid-body.
	for _, in := range []string{chunked + "5\r\nhel", head + "Content-Length: 9\r\n\r\nhello"} {
		out := rawHalfClose(t, f.plain, in)
		assert.True(t, strings.HasPrefix(out, "HTTP/1.1 400 "), "%q: %q", in, out)
	}
	// A client that stops sending its body: 408 after the body timeout.
	out, closed := rawKeepOpen(t, f.plain, head+"Content-Length: 9\r\n\r\nhel", 10*time.Second)
	assert.True(t, closed)
	assert.True(t, strings.HasPrefix(out, "HTTP/1.1 408 "), out)
	// The same faults over HTTP/2: a body shorter than its content-length.
	assert.Equal(t, "400", h2ShortBody(t, f.plain))

	assert.Empty(t, f.ejected(), "no endpoint blamed for a client's body")
	assert.Zero(t, f.panics.Load(), "no panic mode")
	_, badA := a.requests()
	_, badB := b.requests()
	assert.Empty(t, append(badA, badB...))
	a.mu.Lock()
	b.mu.Lock()
	heads := a.heads + b.heads
	a.mu.Unlock()
	b.mu.Unlock()
	assert.LessOrEqual(t, heads, 2*len(cases)+4, "no attempt was retried")
	for i := 0; i < 4; i++ {
		out, _ := rawExchange(t, f.plain, "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
		assert.True(t, strings.HasPrefix(out, "HTTP/1.1 200 "), out)
	}
}

// h2ShortBody sends an HTTP/2 request declaring 10 bytes and ending its
// stream after 5, and returns the :status answered.
func h2ShortBody(t *testing.T, addr string) string {
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, http2.ClientPreface)
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(65536, nil)
	fr.WriteSettings()
	writeH2Headers(t, fr, 1, h2Request("POST", "/", [2]string{"content-length", "10"}), false)
	fr.WriteData(1, true, []byte("hello"))
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return "closed"
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			return f.PseudoValue("status")
		case *http2.RSTStreamFrame:
			return "reset"
		}
	}
}

// slowBody sends n pieces, gap apart.
func slowBody(n int, gap time.Duration) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < n; i++ {
			time.Sleep(gap)
			pw.Write([]byte("0123456789"))
		}
		pw.Close()
	}()
	return pr
}

// TestSendTimeoutIsPerWrite: proxy-send-timeout is the time between two
// writes to the endpoint (nginx), so a steady upload that lasts several
// times the timeout succeeds, to HTTP/1.1 and HTTP/2 endpoints alike.
func TestSendTimeoutIsPerWrite(t *testing.T) {
	f := newFront(t, Options{}, ServerOptions{})
	rec := newRecorder(t)
	h1 := rec.backend("h1")
	h1.Timeouts = table.Timeouts{Send: 200 * time.Millisecond, Read: 200 * time.Millisecond}
	var got bytes.Buffer
	h2srv := httptestH2C(t, func(w http.ResponseWriter, r *http.Request) { io.Copy(&got, r.Body) })
	h2 := &table.Backend{Name: "h2", Protocol: table.H2C, Endpoints: []table.Endpoint{{Address: h2srv}},
		Timeouts: table.Timeouts{Connect: 100 * time.Millisecond, Send: 200 * time.Millisecond, Read: 200 * time.Millisecond}}
	f.publish(t, routeTo("a.test", "/h1", h1), routeTo("a.test", "/h2", h2))
	for _, path := range []string{"/h1", "/h2"} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+f.plain+path, slowBody(8, 100*time.Millisecond))
		req.Host = "a.test"
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, 200, resp.StatusCode, path)
	}
	reqs, _ := rec.requests()
	require.Len(t, reqs, 1)
	assert.Len(t, reqs[0].body, 80)
	assert.Equal(t, 80, got.Len())
}

func httptestH2C(t *testing.T, h http.HandlerFunc) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: h2c.NewHandler(h, &http2.Server{})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestUnsolicitedUpgradeIsNotTunnelled: a 101 to a request Weir sent
// without Upgrade (or for another protocol than the client asked) would
// let the client's later bytes bypass routing. It is a 502 and the
// endpoint's failure.
func TestUnsolicitedUpgradeIsNotTunnelled(t *testing.T) {
	const switched = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\nConnection: Upgrade\r\n\r\n"
	for name, tc := range map[string]struct{ answer, request string }{
		"no upgrade asked": {strings.Replace(switched, "%s", "websocket", 1),
			"GET / HTTP/1.1\r\nHost: raw.test\r\nConnection: close\r\n\r\nGET /admin HTTP/1.1\r\nHost: raw.test\r\n\r\n"},
		"other protocol": {strings.Replace(switched, "%s", "h2c", 1),
			"GET / HTTP/1.1\r\nHost: raw.test\r\nUpgrade: websocket\r\nConnection: Upgrade, close\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFront(t, Options{}, ServerOptions{})
			rt := rawRoute(rawBackend(t, tc.answer, false))
			rt.Action.Split.Main.Passive = table.PassiveHealth{MaxFails: 1, Ejection: time.Hour}
			f.publish(t, rt)
			out, _ := rawExchange(t, f.plain, tc.request)
			assert.True(t, strings.HasPrefix(out, "HTTP/1.1 502 "), out)
			assert.NotContains(t, out, "101")
			assert.Len(t, f.ejected(), 1, "the endpoint's failure")
		})
	}
}

// client-body-timeout from the global ConfigMap (Global.ClientBodyTimeout)
// replaces the option for requests that start afterwards.
func TestClientBodyTimeoutFromGlobal(t *testing.T) {
	f := newFront(t, Options{ClientBodyTimeout: time.Hour}, ServerOptions{})
	a, b := newRecorder(t), newRecorder(t)
	f.publish(t, routeTo("a.test", "/", strictBackend(a, b)))
	f.srv.SetGlobal(&Global{ClientBodyTimeout: 300 * time.Millisecond})
	out, closed := rawKeepOpen(t, f.plain, "POST / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\nContent-Length: 9\r\n\r\nhel", 10*time.Second)
	assert.True(t, closed, "answered long before the option's hour")
	assert.True(t, strings.HasPrefix(out, "HTTP/1.1 408 "), out)
}

// h2StatusBackend is an HTTP/2 (prior knowledge) endpoint that answers
// every request with the given :status and no body.
func h2StatusBackend(t *testing.T, status string) string {
	return serveConns(t, func(c net.Conn) {
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		preface := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(c, preface); err != nil {
			return
		}
		fr := http2.NewFramer(c, c)
		fr.WriteSettings()
		var buf bytes.Buffer
		enc := hpack.NewEncoder(&buf)
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					fr.WriteSettingsAck()
				}
			case *http2.HeadersFrame:
				buf.Reset()
				enc.WriteField(hpack.HeaderField{Name: ":status", Value: status})
				fr.WriteHeaders(http2.HeadersFrameParam{StreamID: f.StreamID, BlockFragment: buf.Bytes(), EndHeaders: true, EndStream: true})
			}
		}
	})
}

// TestStatusOutOfRangeIsTheEndpoints: an HTTP/2 endpoint's :status is any
// number x/net's transport can parse (net/http's HTTP/1.1 transport also
// takes "099"). One outside 100-999 is a malformed answer: 502 and the
// endpoint's failure, never relayed as a 200, and never a panic of the
// HTTP/2 server's WriteHeader that leaves the endpoint counted in flight.
func TestStatusOutOfRangeIsTheEndpoints(t *testing.T) {
	for _, status := range []string{"99", "1000", "-1"} {
		t.Run(status, func(t *testing.T) {
			f := newFront(t, Options{}, ServerOptions{})
			addr := h2StatusBackend(t, status)
			b := &table.Backend{Name: "h2", Protocol: table.H2C, Endpoints: []table.Endpoint{{Address: addr}},
				Passive: table.PassiveHealth{MaxFails: 2, Ejection: time.Hour}}
			f.publish(t, routeTo("a.test", "/", b))

			out, _ := rawExchange(t, f.plain, "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
			assert.True(t, strings.HasPrefix(out, "HTTP/1.1 502 "), "HTTP/1.1 client: %q", out)

			tr := &http.Transport{Protocols: new(http.Protocols)}
			tr.Protocols.SetUnencryptedHTTP2(true)
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			req, _ := http.NewRequest("GET", "http://"+f.plain+"/", nil)
			req.Host = "a.test"
			resp, err := client.Do(req)
			if assert.NoError(t, err, "HTTP/2 client") {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				assert.Equal(t, 502, resp.StatusCode, "HTTP/2 client")
			}
			for _, e := range f.reg.Snapshot() {
				assert.Zero(t, e.InFlight, "no request of the endpoint's is left in flight")
			}
			assert.Len(t, f.ejected(), 1, "two malformed answers eject the endpoint")
		})
	}
}

// panickyWriter stands for any bug on the way to the client: its
// WriteHeader panics.
type panickyWriter struct{ *httptest.ResponseRecorder }

func (panickyWriter) WriteHeader(int) { panic("a bug on the way to the client") }

// A panic while an endpoint's answer is passed on must not leave the
// endpoint counted busy: least-connections would avoid it for good.
func TestAPanicMidAnswerEndsTheAttempt(t *testing.T) {
	f := newFront(t, Options{}, ServerOptions{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(be.Close)
	f.publish(t, routeTo("a.test", "/", backendOf("web", be)))
	r := httptest.NewRequest(http.MethodGet, "http://a.test/", nil)
	require.Panics(t, func() { f.srv.ServeHTTP(panickyWriter{httptest.NewRecorder()}, r) })
	found := false
	for _, e := range f.reg.Snapshot() {
		if e.Address == be.Listener.Addr().String() {
			found = true
			assert.Zero(t, e.InFlight, "the endpoint is still counted busy")
		}
	}
	assert.True(t, found)
}

// endOnPanic says an attempt a panic unwound "counts as neither success nor
// failure": it must not clear the endpoint's run of passive failures.
func TestAPanickedAttemptIsNotASuccess(t *testing.T) {
	ep := balance.NewEndpoint("10.0.0.1:80", table.HTTP1, time.Now)
	ep.SetPassive(table.PassiveHealth{MaxFails: 2, Ejection: time.Minute})
	ep.Begin()
	ep.End(balance.Outcome{Latency: time.Millisecond, Failed: true}) // failure 1 of 2
	func() {
		defer func() { recover() }()
		inFlight := ep
		ep.Begin()
		defer endOnPanic(&inFlight)
		panic("a bug mid-answer")
	}()
	if ep.InFlight() != 0 {
		t.Fatalf("in flight %d", ep.InFlight())
	}
	ep.Begin()
	ep.End(balance.Outcome{Latency: time.Millisecond, Failed: true}) // failure 2 of 2
	if !ep.Ejected() {
		t.Fatal("a panicked attempt counted as a success: it reset the endpoint's passive failures")
	}
}
