package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// requestHeadSeeds are heads that exercise each rule of the parser.
var requestHeadSeeds = []string{
	"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n",
	"GET /a%20b?c=d HTTP/1.1\r\nHost: a.test\r\nUser-Agent: x\r\nAccept: */*\r\n\r\n",
	"GET http://a.test/x HTTP/1.1\r\nHost: b.test\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
	"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n",
	"GET / HTTP/1.0\r\n\r\n",
	"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n folded\r\n\r\n",
	"GET / HTTP/1.1\nHost: a\n\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\n\r\n",
	"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
	"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX_Under: 1\r\nx-lower: 2\r\nTransfer-Encoding : chunked\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nPragma: no-cache\r\n\r\n",
	"G\xffT / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: [::1]:80\r\nContent-Length: 00\r\n\r\n",
}

// FuzzRequestHeadDifferential checks Weir's request-head parser against
// net/http's http.ReadRequest: whatever head Weir accepts, net/http accepts
// too, with the same method, target, URL, host, version, connection
// handling, header fields and body framing. (Weir refuses more: bare LFs,
// folded lines, versions other than 1.0 and 1.1, Transfer-Encoding in
// HTTP/1.0, targets validTarget refuses; and it checks the Host rules
// that net/http's server adds to ReadRequest.)
func FuzzRequestHeadDifferential(f *testing.F) {
	for _, s := range requestHeadSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		head, err := readRequestHead(bufio.NewReaderSize(bytes.NewReader(in), 64), nil, 1<<16)
		if err != nil {
			return
		}
		h := make(http.Header)
		rh, err := parseRequestHead(string(head), h, nil)
		if err != nil {
			var he *headError
			if !errors.As(err, &he) {
				t.Fatalf("refused without a status: %v", err)
			}
			return
		}
		var u url.URL
		if err := setRequestURL(&u, &rh); err != nil {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(in)))
		if err != nil {
			t.Fatalf("Weir accepted a head that net/http refuses (%v):\n%q", err, in)
		}
		host := u.Host
		if host == "" {
			host = rh.host
		}
		if req.Method != rh.method || req.RequestURI != rh.target || !reflect.DeepEqual(*req.URL, u) ||
			req.Host != host || req.ProtoMinor != rh.minor || req.ProtoMajor != 1 || req.Close != rh.close {
			t.Fatalf("request line or host differ for %q:\nnet/http %s %s %s %q close=%v\nWeir %s %s %s %q close=%v",
				in, req.Method, req.RequestURI, req.Proto, req.Host, req.Close, rh.method, rh.target, &u, host, rh.close)
		}
		if req.ContentLength != rh.contentLength || (rh.contentLength < 0) != (len(req.TransferEncoding) == 1) {
			t.Fatalf("framing differs for %q: net/http %d %v, Weir %d", in, req.ContentLength, req.TransferEncoding, rh.contentLength)
		}
		// net/http's server deletes Host; ReadRequest turns Pragma:
		// no-cache into Cache-Control, which Weir does not invent.
		delete(req.Header, "Host")
		if h["Cache-Control"] == nil && strings.EqualFold(strings.Join(req.Header["Pragma"], ""), "no-cache") {
			delete(req.Header, "Cache-Control")
		}
		if len(req.Header) != len(h) {
			t.Fatalf("header fields differ for %q:\nnet/http %q\nWeir %q", in, req.Header, h)
		}
		for k, vs := range req.Header {
			if strings.Join(vs, "\x00") != strings.Join(h[k], "\x00") {
				t.Fatalf("header %s differs for %q: net/http %q, Weir %q", k, in, vs, h[k])
			}
		}
	})
}

// FuzzRequestURL checks the URL that setRequestURL makes of a target
// (without allocating, for the common ones) against url.ParseRequestURI's:
// the same URL, and an error where it has one.
func FuzzRequestURL(f *testing.F) {
	for _, t := range []string{"/", "/a/b?c=d", "/a?", "/a??", "/a?b?", "/a%20b", "/a b", "/!", "/a?\x01",
		"//a/b", "/a:b@c;d=e,f+g$h&i", "*", "http://a/b", "/\xff", "/a#b", "/?"} {
		f.Add(t)
	}
	f.Fuzz(func(t *testing.T, target string) {
		rh := reqHead{method: http.MethodGet, target: target}
		var u url.URL
		err := setRequestURL(&u, &rh)
		want, werr := url.ParseRequestURI(target)
		if (err != nil) != (werr != nil) {
			t.Fatalf("%q: error %v, url.ParseRequestURI's %v", target, err, werr)
		}
		if err == nil && !reflect.DeepEqual(u, *want) {
			t.Fatalf("%q: URL %#v, url.ParseRequestURI's %#v", target, u, *want)
		}
	})
}
