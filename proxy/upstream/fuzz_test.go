package upstream

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
)

// FuzzReadResponseHead is differential: Weir's two head parsers (whole head
// buffered, line by line) must agree, and whatever Weir accepts net/http's
// reader must accept too, with the same status, framing and headers.
func FuzzReadResponseHead(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
	f.Add("HTTP/1.0 304 Not Modified\r\nConnection: keep-alive\r\n\r\n")
	f.Add("HTTP/1.1 999\r\n\r\n")
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello")
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n")
	f.Add("HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n")
	f.Add("HTTP/1.1 200 OK\r\nX-A:  v \t\r\nx-b: \xc2\x85\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		fast := bufio.NewReader(strings.NewReader(in))
		fast.Peek(1)
		hf := make(http.Header)
		rhf, errf := readResponseHead(fast, hf, nil)
		h := make(http.Header)
		rh, err := readHeadLines(bufio.NewReader(strings.NewReader(in)), h)
		if (err == nil) != (errf == nil) {
			t.Fatalf("paths disagree: fast %v, lines %v", errf, err)
		}
		if err == nil && (rh != rhf || !headersEqual(h, hf)) {
			t.Fatalf("paths disagree:\n%+v %v\n%+v %v", rh, h, rhf, hf)
		}
		if err != nil {
			return
		}
		if rh.code < 100 || rh.code > 999 {
			t.Fatalf("status %d accepted", rh.code)
		}
		if err := framing(&rh, h, http.MethodGet); err != nil {
			return
		}
		if !rh.noBody && !rh.chunked && !rh.untilClose && rh.contentLength < 0 {
			t.Fatal("no framing decided")
		}
		std, serr := http.ReadResponse(bufio.NewReader(strings.NewReader(in)), &http.Request{Method: http.MethodGet})
		if serr != nil {
			t.Fatalf("Weir accepts a head net/http refuses (%v): %+v %v", serr, rh, h)
		}
		compareStd(t, rh, h, std)
	})
}

func headersEqual(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\x00") != strings.Join(b[k], "\x00") || len(v) != len(b[k]) {
			return false
		}
	}
	return true
}

// compareStd checks Weir's reading of a head against net/http's.
func compareStd(t *testing.T, rh respHead, h http.Header, std *http.Response) {
	t.Helper()
	if std.StatusCode != rh.code {
		t.Fatalf("status: Weir %d, net/http %d", rh.code, std.StatusCode)
	}
	for k, v := range h {
		if k == "Content-Length" {
			continue // net/http drops it beside a body it does not expect
		}
		if strings.Join(std.Header[k], "\x00") != strings.Join(v, "\x00") {
			t.Fatalf("header %q: Weir %q, net/http %q", k, v, std.Header[k])
		}
	}
	if rh.noBody {
		return // 1xx, 204, 304: no body, whatever the framing headers say
	}
	stdChunked := len(std.TransferEncoding) > 0 && std.TransferEncoding[0] == "chunked"
	if rh.chunked != stdChunked {
		t.Fatalf("chunked: Weir %v, net/http %v", rh.chunked, std.TransferEncoding)
	}
	if !rh.chunked && std.ContentLength != rh.contentLength {
		t.Fatalf("length: Weir %d, net/http %d", rh.contentLength, std.ContentLength)
	}
}
