package proxy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/proxy/table"
)

// smuggled follows each attack: if the proxy framed the first request
// differently from a front proxy that used the other length, these bytes
// would be read as a second request.
const smuggled = "GET /smuggled HTTP/1.1\r\nHost: a.test\r\n\r\n"

// TestAmbiguousRequestFramingIsNotSmuggled sends requests whose body length
// can be read two ways (RFC 9112 section 6.1, 11.2), each followed by a
// second request. Weir either refuses the first (400, 501) or reads it as
// chunked and closes the connection after answering it: at most one
// request reaches the backend, and never the smuggled one.
func TestAmbiguousRequestFramingIsNotSmuggled(t *testing.T) {
	f := newFront(t, Options{}, ServerOptions{})
	rec := newRecorder(t)
	f.publish(t, routeTo("a.test", "/", rec.backend("rec")))
	const head = "POST / HTTP/1.1\r\nHost: a.test\r\n"
	chunkedBody := "5\r\nhello\r\n0\r\n\r\n"
	cases := map[string]struct {
		in     string
		status int // 0: answered 200 (treated as chunked) and closed
	}{
		"CL.TE":                   {head + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + chunkedBody, 0},
		"TE.CL":                   {head + "Transfer-Encoding: chunked\r\nContent-Length: 60\r\n\r\n" + chunkedBody, 0},
		"TE with leading space":   {head + "Content-Length: 4\r\nTransfer-Encoding:  chunked\r\n\r\n" + chunkedBody, 0},
		"TE with leading tab":     {head + "Content-Length: 4\r\nTransfer-Encoding:\tchunked\r\n\r\n" + chunkedBody, 0},
		"TE upper case":           {head + "Content-Length: 4\r\nTransfer-Encoding: CHUNKED\r\n\r\n" + chunkedBody, 0},
		"TE list not chunked":     {head + "Transfer-Encoding: chunked, identity\r\n\r\n" + chunkedBody, 501},
		"TE gzip then chunked":    {head + "Transfer-Encoding: gzip, chunked\r\n\r\n" + chunkedBody, 501},
		"TE twice":                {head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + chunkedBody, 501},
		"TE identity with CL":     {head + "Transfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello", 501},
		"TE vertical tab":         {head + "Transfer-Encoding: \x0bchunked\r\nContent-Length: 5\r\n\r\nhello", 400},
		"space before colon":      {head + "Transfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\nhello", 400},
		"CL twice, different":     {head + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400},
		"CL list":                 {head + "Content-Length: 5, 6\r\n\r\nhello!", 400},
		"CL with plus":            {head + "Content-Length: +5\r\n\r\nhello", 400},
		"CL negative":             {head + "Content-Length: -5\r\n\r\nhello", 400},
		"CL hex":                  {head + "Content-Length: 0x5\r\n\r\nhello", 400},
		"CL empty":                {head + "Content-Length: \r\n\r\nhello", 400},
		"bare LF in chunk size":   {head + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400},
		"chunk extension with LF": {head + "Transfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n", 400},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before, _ := rec.requests()
			out, closed := rawExchange(t, f.plain, tc.in+smuggled)
			assert.True(t, closed, "the connection is closed after the answer")
			resps := responses(out, "POST")
			require.Len(t, resps, 1, "exactly one answer: %q", out)
			after, bad := rec.requests()
			assert.Empty(t, bad)
			got := after[len(before):]
			if tc.status != 0 {
				assert.Equal(t, tc.status, resps[0].StatusCode)
				assert.Empty(t, got, "a refused request never reaches the backend")
				return
			}
			assert.Equal(t, 200, resps[0].StatusCode)
			require.Len(t, got, 1)
			assert.Equal(t, "/", got[0].target)
			assert.Equal(t, "hello", got[0].body, "read as chunked, the length dropped")
		})
	}
}

// TestChunkedRequestsCloseTheConnection: a plain chunked request is
// answered and the connection closed too (net/http drops a Content-Length
// beside chunked without a trace, so Weir cannot tell the two apart), while
// a request with only a Content-Length keeps the connection.
func TestChunkedRequestsCloseTheConnection(t *testing.T) {
	f := newFront(t, Options{}, ServerOptions{})
	rec := newRecorder(t)
	f.publish(t, routeTo("a.test", "/", rec.backend("rec")))
	out, closed := rawKeepOpen(t, f.plain, "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", 5*time.Second)
	assert.True(t, closed)
	assert.Contains(t, out, "Connection: close")
	out, closed = rawKeepOpen(t, f.plain, "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 2\r\n\r\nok", 300*time.Millisecond)
	assert.False(t, closed, "kept alive")
	assert.True(t, strings.HasPrefix(out, "HTTP/1.1 200 "), out)
}

// TestHeaderLimitIsExact checks --max-header-bytes on both protocols at
// the limit and one byte over it.
func TestHeaderLimitIsExact(t *testing.T) {
	const limit = 8 << 10
	f := newFront(t, Options{}, ServerOptions{MaxHeaderBytes: limit})
	rec := newRecorder(t)
	f.publish(t, routeTo("a.test", "/", rec.backend("rec")))
	// HTTP/1.1: the head as it is on the wire.
	h1 := func(size int) int {
		head := "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\nX-Pad: \r\n\r\n"
		in := strings.Replace(head, "X-Pad: ", "X-Pad: "+strings.Repeat("a", size-len(head)), 1)
		require.Len(t, in, size)
		out, _ := rawExchange(t, f.plain, in)
		resps := responses(out, "GET")
		require.Len(t, resps, 1, out)
		return resps[0].StatusCode
	}
	assert.Equal(t, 200, h1(limit))
	assert.Equal(t, 431, h1(limit+1))
	assert.Equal(t, 431, h1(limit+5000), "beyond net/http's own limit")
	// Field lines without the optional space count one byte more than on
	// the wire: under the limit on the wire is not enough.
	bare := func(fields int) int {
		in := "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n" + strings.Repeat("X:a\r\n", fields) + "\r\n"
		require.Less(t, len(in), limit)
		out, _ := rawExchange(t, f.plain, in)
		resps := responses(out, "GET")
		require.Len(t, resps, 1, out)
		return resps[0].StatusCode
	}
	assert.Equal(t, 200, bare(1000), "5,051 bytes on the wire, 6,051 counted")
	assert.Equal(t, 431, bare(1500), "7,551 bytes on the wire, 9,051 counted")
	// HTTP/2: the header list size, 32 bytes per field plus names and
	// values, pseudo-fields included.
	h2 := func(size int, tlsOn bool) h2Result {
		fields := h2Request("GET", "/", [2]string{"x-pad", ""})
		n := 0
		for _, f := range fields {
			n += len(f[0]) + len(f[1]) + 32
		}
		fields[len(fields)-1][1] = strings.Repeat("a", size-n)
		addr := f.plain
		if tlsOn {
			addr = f.tls
		}
		return h2Send(t, addr, tlsOn, fields)
	}
	for _, tlsOn := range []bool{false, true} {
		assert.Equal(t, "200", h2(limit, tlsOn).status, "TLS %v", tlsOn)
		assert.Equal(t, "431", h2(limit+1, tlsOn).status, "TLS %v", tlsOn)
		// A single field longer than the whole limit: x/net/http2's
		// server stops decoding and closes the connection.
		assert.True(t, h2(2*limit+100, tlsOn).goaway, "TLS %v", tlsOn)
	}
}

// TestDefaultHeaderLimitIs32KiB: with no MaxHeaderBytes the limit is the
// documented 32768 bytes, not net/http's 32768+4096.
func TestDefaultHeaderLimitIs32KiB(t *testing.T) {
	f := newFront(t, Options{}, ServerOptions{})
	f.publish(t, routeTo("a.test", "/", newRecorder(t).backend("rec")))
	head := "GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\nX-Pad: \r\n\r\n"
	for size, want := range map[int]int{32 << 10: 200, 32<<10 + 1: 431, 36 << 10: 431} {
		in := strings.Replace(head, "X-Pad: ", "X-Pad: "+strings.Repeat("a", size-len(head)), 1)
		out, _ := rawExchange(t, f.plain, in)
		assert.True(t, strings.HasPrefix(out, fmt.Sprintf("HTTP/1.1 %d ", want)), "%d bytes: %.40q", size, out)
	}
}

// TestAbsoluteFormWithoutHostIsRefused: an absolute-form target whose
// authority is empty, or only a port, names no host (RFC 9110 section
// 4.2.1), and userinfo is an error (section 4.2.4), so Weir refuses them
// with 400 rather than routing by the Host field.
func TestAbsoluteFormWithoutHostIsRefused(t *testing.T) {
	f := newFront(t, Options{}, ServerOptions{})
	rec := newRecorder(t)
	f.publish(t, routeTo("a.test", "/", rec.backend("rec")))
	for _, target := range []string{"http:///", "http:///x", "HTTPS://?q=1", "http://@/x", "http://:80/x", "http://u:p@a.test/x", "http://evil.test@a.test/"} {
		out, _ := rawExchange(t, f.plain, "GET "+target+" HTTP/1.1\r\nHost: a.test\r\n\r\n")
		resps := responses(out, "GET")
		require.Len(t, resps, 1, "one answer to %q: %q", target, out)
		assert.Equal(t, 400, resps[0].StatusCode, target)
	}
	reqs, _ := rec.requests()
	assert.Empty(t, reqs, "no refused request reaches the backend")
	out, _ := rawExchange(t, f.plain, "GET http://a.test/x HTTP/1.1\r\nHost: a.test\r\n\r\n")
	assert.Equal(t, 200, responses(out, "GET")[0].StatusCode, "an absolute-form target with a host is still served")
}

// TestConfiguredFramingFieldsNeverReachTheWire: header edits in a table
// that name framing or routing fields (the translation refuses them; this
// is what the proxy does if one gets through) are not written: the
// endpoint sees one Host, the client's, and the body framed once, by
// Weir; the client sees the answer's own length.
func TestConfiguredFramingFieldsNeverReachTheWire(t *testing.T) {
	f := newFront(t, Options{}, ServerOptions{})
	rec := newRecorder(t)
	rt := routeTo("a.test", "/", rec.backend("rec"))
	rt.Action.RequestHeaders = table.HeaderEdits{
		Set: []table.Header{{Name: "transfer-encoding", Value: "chunked"}, {Name: "Host", Value: "internal.test"}},
		Add: []table.Header{{Name: "Content-Length", Value: "0"}, {Name: "Connection", Value: "close"}, {Name: "X-Kept", Value: "yes"}},
	}
	rt.Action.ResponseHeaders = table.HeaderEdits{Set: []table.Header{{Name: "Content-Length", Value: "100"}}}
	f.publish(t, rt)
	body := "0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a.test\r\n\r\n"
	out, _ := rawExchange(t, f.plain, fmt.Sprintf("POST /x HTTP/1.1\r\nHost: a.test\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body))
	resps := responses(out, "POST")
	require.Len(t, resps, 1, out)
	assert.Equal(t, 200, resps[0].StatusCode)
	assert.Equal(t, int64(2), resps[0].ContentLength, "the answer's own length")
	reqs, bad := rec.requests()
	assert.Empty(t, bad)
	require.Len(t, reqs, 1, "one request, no smuggled second")
	r := reqs[0]
	assert.Equal(t, "a.test", r.host)
	assert.Equal(t, body, r.body)
	assert.Nil(t, r.header["Transfer-Encoding"])
	assert.Equal(t, []string{fmt.Sprint(len(body))}, r.header["Content-Length"])
	assert.Equal(t, []string{"yes"}, r.header["X-Kept"])
}

// TestConfiguredRemovalNeverKeepsAChunkedConnection: Weir says that it will
// close a connection after a chunked request (it may have carried a
// Content-Length that a front proxy framed by) with Connection: close in the
// answer's header map. A configured response edit that removes Connection
// (a Gateway API ResponseHeaderModifier's remove, which the translation
// does not refuse) must not take that away: the bytes after the chunked
// body would otherwise be read as a next request.
func TestConfiguredRemovalNeverKeepsAChunkedConnection(t *testing.T) {
	f := newFront(t, Options{}, ServerOptions{})
	rec := newRecorder(t)
	be := rec.backend("rec")
	f.publish(t, &table.Route{Host: "a.test", Path: table.PathMatch{Type: table.PathPrefix, Value: "/"},
		Action: &table.Action{Split: table.Split{Main: be},
			ResponseHeaders: table.HeaderEdits{Remove: []string{"Connection"}}}})
	in := "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + smuggled
	out, closed := rawExchange(t, f.plain, in)
	assert.True(t, closed, "the connection is closed after the answer")
	resps := responses(out, "POST")
	require.Len(t, resps, 1, "exactly one answer: %q", out)
	reqs, bad := rec.requests()
	assert.Empty(t, bad)
	for _, r := range reqs {
		assert.NotEqual(t, "/smuggled", r.target, "the bytes after the body were read as a request")
	}
	assert.Len(t, reqs, 1)
}
