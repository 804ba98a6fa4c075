package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/proxy/table"
)

// rawBackend answers every request on a connection with the same raw bytes,
// then closes the connection when close is set.
func rawBackend(t *testing.T, answer string, closeAfter bool) string {
	t.Helper()
	return requestBackend(t, func(c net.Conn, _ *bufio.Reader, req *http.Request) bool {
		io.Copy(io.Discard, req.Body)
		io.WriteString(c, answer)
		return !closeAfter
	})
}

func rawRoute(addr string) *table.Route {
	return routeTo("raw.test", "/", &table.Backend{Name: "raw", Endpoints: []table.Endpoint{{Address: addr}}})
}

func TestUpstreamResponseFraming(t *testing.T) {
	cases := []struct {
		name       string
		answer     string
		closeAfter bool
		status     int
		body       string
		trailer    string
	}{
		{"content length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello", false, 200, "hello", ""},
		{"chunked with trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n", false, 200, "abcde", "5"},
		{"until close", "HTTP/1.1 200 OK\r\n\r\nstream until close", true, 200, "stream until close", ""},
		{"http/1.0", "HTTP/1.0 201 Created\r\nContent-Length: 2\r\n\r\nok", true, 201, "ok", ""},
		{"no content", "HTTP/1.1 204 No Content\r\n\r\n", false, 204, "", ""},
		{"100 continue skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", false, 200, "x", ""},
		{"lower-case names", "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-custom: v\r\n\r\nhi", false, 200, "hi", ""},
		{"conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi", true, 502, "", ""},
		{"malformed status", "HTTP/1.1 2x OK\r\n\r\n", true, 502, "", ""},
		{"folded header", "HTTP/1.1 200 OK\r\nX-A: 1\r\n  continued\r\nContent-Length: 0\r\n\r\n", true, 502, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{})
			h.publish(rawRoute(rawBackend(t, tc.answer, tc.closeAfter)))
			req, _ := http.NewRequest(http.MethodGet, "http://raw.test/", nil)
			resp, body := h.do(req)
			assert.Equal(t, tc.status, resp.StatusCode)
			if tc.status < 300 {
				assert.Equal(t, tc.body, body)
			}
			if tc.trailer != "" {
				assert.Equal(t, tc.trailer, resp.Trailer.Get("X-Sum"))
			}
		})
	}
}

func TestTruncatedBodyBreaksTheClientConnection(t *testing.T) {
	// The endpoint promises 10 bytes and closes after 3: the client must not
	// see a complete-looking response.
	h := newHarness(t, Options{})
	h.publish(rawRoute(rawBackend(t, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", true)))
	req, _ := http.NewRequest(http.MethodGet, h.front.URL+"/", nil)
	req.Host = "raw.test"
	resp, err := h.front.Client().Do(req)
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	assert.Error(t, err, "the response fails visibly, at the headers or in the body")
}

func TestKeepAliveIsReused(t *testing.T) {
	h := newHarness(t, Options{})
	var conns int
	var mu = make(chan struct{}, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu <- struct{}{}
			conns++
			<-mu
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					if _, err := http.ReadRequest(br); err != nil {
						return
					}
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			}()
		}
	}()
	h.publish(rawRoute(ln.Addr().String()))
	for i := 0; i < 20; i++ {
		code, body := h.get("raw.test", "/")
		require.Equal(t, 200, code)
		require.Equal(t, "ok", body)
	}
	mu <- struct{}{}
	assert.Equal(t, 1, conns, "sequential requests share one upstream connection")
	<-mu
}

// TestBodylessAnswersKeepTheirOwnLength: a 304 or a HEAD answer carries
// the length its endpoint gave, or none; Weir never invents
// "Content-Length: 0" (a HEAD's length is the resource's, a 304 may carry
// only the 200's).
func TestBodylessAnswersKeepTheirOwnLength(t *testing.T) {
	addr := serveConns(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			switch req.URL.Path {
			case "/304":
				io.WriteString(c, "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n")
			case "/304-length":
				io.WriteString(c, "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 1234\r\n\r\n")
			case "/head-chunked":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
			case "/head-length":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n")
			}
		}
	})
	f := newFront(t, Options{}, ServerOptions{})
	f.publish(t, routeTo("a.test", "/", &table.Backend{Name: "b", Endpoints: []table.Endpoint{{Address: addr}}}))
	for _, c := range []struct{ method, path, want string }{
		{"GET", "/304", ""}, {"GET", "/304-length", "1234"}, {"HEAD", "/head-chunked", ""}, {"HEAD", "/head-length", "42"},
	} {
		out, _ := rawExchange(t, f.plain, c.method+" "+c.path+" HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
		head, _, _ := strings.Cut(out, "\r\n\r\n")
		got := ""
		for _, line := range strings.Split(head, "\r\n")[1:] {
			if k, v, _ := strings.Cut(line, ": "); strings.EqualFold(k, "Content-Length") {
				got = v
			}
		}
		assert.Equal(t, c.want, got, "%s %s: %q", c.method, c.path, head)
	}
}

// TestTrailersNeverCarryFraming: an endpoint's trailer section that names
// framing or routing fields has them dropped; the others reach the
// client.
func TestTrailersNeverCarryFraming(t *testing.T) {
	h := newHarness(t, Options{})
	h.publish(rawRoute(rawBackend(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"+
		"X-Sum: 3\r\nContent-Length: 99\r\nHost: elsewhere.test\r\nTransfer-Encoding: chunked\r\n\r\n", false)))
	req, _ := http.NewRequest(http.MethodGet, "http://raw.test/", nil)
	resp, body := h.do(req)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "abc", body)
	assert.Equal(t, http.Header{"X-Sum": {"3"}}, resp.Trailer)
}
