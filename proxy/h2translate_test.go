package proxy

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"weir.dev/weir/proxy/table"
)

// h2Result is how a server ended one HTTP/2 stream.
type h2Result struct {
	status string // :status of the response, "" if none
	reset  bool   // RST_STREAM
	goaway bool   // the connection was closed with GOAWAY (or just closed)
}

func (r h2Result) refused() bool {
	return r.reset || r.goaway || r.status >= "400" && r.status < "500" || r.status == "405"
}

// h2Send opens a connection to addr (TLS with ALPN h2 when tlsOn, else h2c
// with prior knowledge) and sends one request made of exactly the fields
// given, with no check of its own: what a hostile client can do.
func h2Send(t *testing.T, addr string, tlsOn bool, fields [][2]string) h2Result {
	t.Helper()
	var c net.Conn
	var err error
	if tlsOn {
		c, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}})
	} else {
		c, err = net.Dial("tcp", addr)
	}
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = c.Write([]byte(http2.ClientPreface))
	require.NoError(t, err)
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(65536, nil)
	require.NoError(t, fr.WriteSettings())
	writeH2Headers(t, fr, 1, fields, true)
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return h2Result{goaway: true}
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.MetaHeadersFrame:
			if f.StreamID == 1 {
				return h2Result{status: f.PseudoValue("status")}
			}
		case *http2.RSTStreamFrame:
			return h2Result{reset: true}
		case *http2.GoAwayFrame:
			return h2Result{goaway: true}
		}
	}
}

// writeH2Headers encodes fields with HPACK and sends them as HEADERS and,
// past 16 KiB, CONTINUATION frames.
func writeH2Headers(t *testing.T, fr *http2.Framer, stream uint32, fields [][2]string, end bool) {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range fields {
		require.NoError(t, enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}))
	}
	block := buf.Bytes()
	const chunk = 16 << 10
	first := block[:min(chunk, len(block))]
	rest := block[len(first):]
	require.NoError(t, fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: first,
		EndStream: end, EndHeaders: len(rest) == 0}))
	for len(rest) > 0 {
		n := min(chunk, len(rest))
		fr.WriteContinuation(stream, n == len(rest), rest[:n])
		rest = rest[n:]
	}
}

func h2Request(method, path string, extra ...[2]string) [][2]string {
	return append([][2]string{{":method", method}, {":scheme", "http"}, {":authority", "a.test"}, {":path", path}}, extra...)
}

// TestHTTP2HeadsAreValidatedBeforeTranslation sends HTTP/2 requests that
// would become a different HTTP/1.1 request line, or a head the backend
// reads otherwise, over h2c and over TLS. Each must be refused (400, 405 or
// a stream error) and none may reach the backend: on "/" an allow-list for
// "/admin" was bypassed with :method "GET /admin".
func TestHTTP2HeadsAreValidatedBeforeTranslation(t *testing.T) {
	f := newFront(t, Options{}, ServerOptions{})
	rec := newRecorder(t)
	f.publish(t, routeTo("a.test", "/", rec.backend("rec")))
	cases := map[string][][2]string{
		"method with space and path":  h2Request("GET /admin", "/"),
		"method with tab":             h2Request("GET\t/admin", "/"),
		"empty method":                h2Request("", "/"),
		"method with slash":           h2Request("GET/", "/"),
		"path with space":             h2Request("GET", "/ HTTP/1.1"),
		"path with fragment":          h2Request("GET", "/a#b"),
		"path without slash":          h2Request("GET", "admin"),
		"path absolute-form":          h2Request("GET", "http://evil.test/admin"),
		"asterisk for GET":            h2Request("GET", "*"),
		"bad escape":                  h2Request("GET", "/%zz"),
		"empty path":                  h2Request("GET", ""),
		"CONNECT":                     {{":method", "CONNECT"}, {":authority", "evil.test:443"}},
		"authority with space":        {{":method", "GET"}, {":scheme", "http"}, {":authority", "a.test evil"}, {":path", "/"}},
		"authority with slash":        {{":method", "GET"}, {":scheme", "http"}, {":authority", "a.test/x"}, {":path", "/"}},
		"value with leading space":    h2Request("GET", "/", [2]string{"x-a", " v"}),
		"value with trailing tab":     h2Request("GET", "/", [2]string{"x-a", "v\t"}),
		"value with NUL":              h2Request("GET", "/", [2]string{"x-a", "a\x00b"}),
		"value with CR LF":            h2Request("GET", "/", [2]string{"x-a", "a\r\nx-injected: 1"}),
		"value with bare LF":          h2Request("GET", "/", [2]string{"x-a", "a\nb"}),
		"upper-case name":             h2Request("GET", "/", [2]string{"X-A", "v"}),
		"name with space":             h2Request("GET", "/", [2]string{"x a", "v"}),
		"name with colon":             h2Request("GET", "/", [2]string{"x:a", "v"}),
		"empty name":                  h2Request("GET", "/", [2]string{"", "v"}),
		"connection header":           h2Request("GET", "/", [2]string{"connection", "keep-alive"}),
		"keep-alive header":           h2Request("GET", "/", [2]string{"keep-alive", "5"}),
		"transfer-encoding":           h2Request("GET", "/", [2]string{"transfer-encoding", "chunked"}),
		"upgrade header":              h2Request("GET", "/", [2]string{"upgrade", "websocket"}),
		"proxy-connection header":     h2Request("GET", "/", [2]string{"proxy-connection", "close"}),
		"te other than trailers":      h2Request("GET", "/", [2]string{"te", "gzip"}),
		"pseudo after regular":        {{":method", "GET"}, {":scheme", "http"}, {"x-a", "1"}, {":path", "/"}, {":authority", "a.test"}},
		"unknown pseudo-header":       h2Request("GET", "/", [2]string{":evil", "1"}),
		"duplicate :path":             h2Request("GET", "/", [2]string{":path", "/admin"}),
		"method with CR LF":           h2Request("GET / HTTP/1.1\r\nHost: a.test\r\n\r\nGET", "/"),
		"path with CR LF":             h2Request("GET", "/ HTTP/1.1\r\nX: y"),
		"method is not a token (DEL)": h2Request("GE\x7fT", "/"),
	}
	for _, tlsOn := range []bool{false, true} {
		addr, proto := f.plain, "h2c"
		if tlsOn {
			addr, proto = f.tls, "h2"
		}
		for name, fields := range cases {
			t.Run(proto+"/"+name, func(t *testing.T) {
				res := h2Send(t, addr, tlsOn, fields)
				assert.True(t, res.refused(), "answered %+v", res)
			})
		}
		// A valid request on the same listener goes through: the refusals
		// above are not a broken listener.
		// (net/http answers "OPTIONS *" itself, before any handler.)
		res := h2Send(t, addr, tlsOn, h2Request("OPTIONS", "*"))
		assert.Equal(t, "200", res.status, proto)
		res = h2Send(t, addr, tlsOn, h2Request("GET", "/ok?q={a|b}", [2]string{"x-a", "v  w"}))
		assert.Equal(t, "200", res.status, proto)
	}
	reqs, bad := rec.requests()
	assert.Empty(t, bad, "the backend never reads a malformed request")
	var lines []string
	for _, r := range reqs {
		lines = append(lines, fmt.Sprintf("%s %s %s", r.method, r.target, r.host))
	}
	assert.Equal(t, []string{"GET /ok?q={a|b} a.test", "GET /ok?q={a|b} a.test"}, lines,
		"only the valid request of each listener reach the backend")
}

// TestAllowListCannotBeBypassedByTheMethod is the attack of issue 8 whole:
// "/admin" is only for 10.0.0.0/8, and "GET /admin" sent as the method of a
// request for "/" must not reach /admin.
func TestAllowListCannotBeBypassedByTheMethod(t *testing.T) {
	f := newFront(t, Options{}, ServerOptions{})
	rec := newRecorder(t)
	admin := routeTo("a.test", "/admin", rec.backend("rec"))
	admin.Action = &table.Action{Split: admin.Action.Split, SourceAllow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	f.publish(t, routeTo("a.test", "/", rec.backend("rec")), admin)
	res := h2Send(t, f.plain, false, h2Request("GET /admin", "/"))
	assert.True(t, res.refused(), "%+v", res)
	res = h2Send(t, f.plain, false, h2Request("GET", "/admin"))
	assert.Equal(t, "403", res.status)
	reqs, bad := rec.requests()
	assert.Empty(t, bad, "no request line the backend would split differently")
	for _, r := range reqs {
		assert.False(t, strings.Contains(r.target, "admin"), "reached %q", r.target)
	}
}
