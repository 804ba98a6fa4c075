package compress

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func policy(t *testing.T, c Config) *Policy {
	p, err := New(c)
	require.NoError(t, err)
	require.NotNil(t, p)
	return p
}

// serve runs h behind p and returns a client that never asks for or
// decodes an encoding by itself.
func serve(t *testing.T, p *Policy, h http.HandlerFunc) (*httptest.Server, *http.Client) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cw := p.Wrap(w, r)
		h(cw, r)
		require.NoError(t, cw.Close(false))
	}))
	t.Cleanup(s.Close)
	return s, &http.Client{Transport: &http.Transport{DisableCompression: true}}
}

func decode(t *testing.T, enc string, body []byte) string {
	t.Helper()
	var r io.Reader = bytes.NewReader(body)
	switch enc {
	case "gzip":
		z, err := gzip.NewReader(r)
		require.NoError(t, err)
		r = z
	case "br":
		r = brotli.NewReader(r)
	}
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(b)
}

var text = strings.Repeat("compress me, please. ", 100)

func TestWhatIsCompressed(t *testing.T) {
	c := Defaults()
	c.Brotli = true
	p := policy(t, c)
	cases := []struct {
		name, method, accept, want string
		status                     int
		header                     map[string]string
		body                       string
	}{
		{"gzip", "GET", "gzip, deflate", "gzip", 200, nil, text},
		{"brotli preferred on a tie", "GET", "gzip, br", "br", 200, nil, text},
		{"q-values decide", "GET", "gzip;q=1, br;q=0.5", "gzip", 200, nil, text},
		{"refused by q=0", "GET", "gzip;q=0", "", 200, nil, text},
		{"star", "GET", "*;q=0.3", "br", 200, nil, text},
		{"star but not gzip", "GET", "*, br;q=0", "gzip", 200, nil, text},
		{"no Accept-Encoding", "GET", "", "", 200, nil, text},
		{"HEAD", "HEAD", "gzip", "", 200, nil, text},
		{"404 as nginx", "GET", "gzip", "gzip", 404, nil, text},
		{"204", "GET", "gzip", "", 204, nil, ""},
		{"304", "GET", "gzip", "", 304, nil, ""},
		{"500 as nginx", "GET", "gzip", "", 500, nil, text},
		{"206", "GET", "gzip", "", 206, map[string]string{"Content-Range": "bytes 0-9/100"}, text},
		{"already encoded", "GET", "gzip", "", 200, map[string]string{"Content-Encoding": "zstd"}, text},
		{"no-transform", "GET", "gzip", "", 200, map[string]string{"Cache-Control": "public, no-transform"}, text},
		{"type not listed", "GET", "gzip", "", 200, map[string]string{"Content-Type": "image/png"}, text},
		{"text/html always", "GET", "gzip", "gzip", 200, map[string]string{"Content-Type": "TEXT/HTML; charset=utf-8"}, text},
		{"short by length", "GET", "gzip", "", 200, map[string]string{"Content-Length": "10"}, "0123456789"},
		{"short without length", "GET", "gzip", "", 200, nil, "short"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, client := serve(t, p, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain")
				w.Header().Set("Etag", `"v1"`)
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			req, _ := http.NewRequest(tc.method, s.URL, nil)
			if tc.accept != "" {
				req.Header.Set("Accept-Encoding", tc.accept)
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got := resp.Header.Get("Content-Encoding")
			if tc.header["Content-Encoding"] == "" {
				assert.Equal(t, tc.want, got)
			}
			if tc.want == "" {
				assert.Equal(t, `"v1"`, resp.Header.Get("Etag"))
				return
			}
			assert.Equal(t, tc.body, decode(t, got, b))
			assert.Equal(t, "Accept-Encoding", resp.Header.Get("Vary"))
			assert.Equal(t, `W/"v1"`, resp.Header.Get("Etag"), "a compressed body is not the same bytes")
			assert.NotEqual(t, strconv.Itoa(len(tc.body)), resp.Header.Get("Content-Length"), "the length of the compressed bytes, if any")
		})
	}
}

func TestVaryOnCompressibleTypesOnly(t *testing.T) {
	p := policy(t, Defaults())
	for ct, vary := range map[string]string{"text/plain": "Accept-Encoding", "image/png": ""} {
		s, client := serve(t, p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ct)
			w.Header().Add("Vary", "Origin")
			io.WriteString(w, "x")
		})
		resp, err := client.Get(s.URL)
		require.NoError(t, err)
		resp.Body.Close()
		want := []string{"Origin"}
		if vary != "" {
			want = append(want, vary)
		}
		assert.Equal(t, want, resp.Header.Values("Vary"), ct)
	}
}

func TestMinLengthFromContentLength(t *testing.T) {
	c := Defaults()
	c.GzipMinLength = 1000
	p := policy(t, c)
	for n, want := range map[int]string{999: "", 1000: "gzip"} {
		s, client := serve(t, p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("Content-Length", strconv.Itoa(n))
			io.WriteString(w, strings.Repeat("a", n))
		})
		req, _ := http.NewRequest("GET", s.URL, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := client.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, want, resp.Header.Get("Content-Encoding"), "%d bytes", n)
		assert.Equal(t, strings.Repeat("a", n), decode(t, want, b))
	}
}

func TestCompressedResponsesStream(t *testing.T) {
	p := policy(t, Defaults())
	next := make(chan struct{})
	s, client := serve(t, p, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, text) // over the minimum: compressed
		http.NewResponseController(w).Flush()
		<-next
		io.WriteString(w, "the end")
	})
	req, _ := http.NewRequest("GET", s.URL, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
	z, err := gzip.NewReader(resp.Body)
	require.NoError(t, err)
	got := make([]byte, len(text))
	_, err = io.ReadFull(z, got)
	require.NoError(t, err, "the first part arrives while the handler still waits")
	assert.Equal(t, text, string(got))
	close(next)
	rest, err := io.ReadAll(z)
	require.NoError(t, err)
	assert.Equal(t, "the end", string(rest))
}

func TestShortFirstChunkOfAStreamGoesAsIs(t *testing.T) {
	p := policy(t, Defaults())
	s, client := serve(t, p, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "data: 1\n\n")
		http.NewResponseController(w).Flush()
		io.WriteString(w, text)
	})
	req, _ := http.NewRequest("GET", s.URL, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := client.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Empty(t, resp.Header.Get("Content-Encoding"), "decided at the first flush: shorter than the minimum")
	assert.Equal(t, "data: 1\n\n"+text, string(b))
}

func TestAbortedResponseIsNotTerminated(t *testing.T) {
	p := policy(t, Defaults())
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	cw := p.Wrap(rec, req)
	cw.Header().Set("Content-Type", "text/plain")
	io.WriteString(cw, text)
	require.NoError(t, cw.Close(true))
	require.Equal(t, "gzip", rec.Header().Get("Content-Encoding"))
	z, err := gzip.NewReader(rec.Body)
	if err == nil {
		_, err = io.ReadAll(z)
	}
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF, "a cut body must not decode as a whole one")
}

func TestConfigValidation(t *testing.T) {
	for _, c := range []Config{{GzipLevel: 10}, {BrotliLevel: 12}, {GzipMinLength: -1}, {GzipTypes: []string{"text"}}, {BrotliMinLength: MaxMinLength + 1}} {
		_, err := New(c)
		assert.Error(t, err, "%+v", c)
	}
	p, err := New(Config{})
	assert.NoError(t, err)
	assert.Nil(t, p, "nothing enabled: no policy")
	ts, err := ParseTypes("text/plain, application/*  *")
	require.NoError(t, err)
	assert.Equal(t, []string{"text/plain", "application/*", "*"}, ts)
	_, err = ParseTypes("text/plain bad")
	assert.Error(t, err)
}

func TestParseAcceptEncoding(t *testing.T) {
	for in, want := range map[string]Accepted{
		"":                          {},
		"gzip":                      {Gzip: 1},
		"x-gzip;q=0.5, br":          {Gzip: 0.5, Brotli: 1},
		"GZIP ; Q=0.25":             {Gzip: 0.25},
		"gzip;q=2":                  {},
		"gzip;q=abc":                {},
		"*;q=0.1, gzip;q=0":         {Brotli: 0.1},
		"identity, deflate":         {},
		"br;level=3;q=0.7":          {Brotli: 0.7},
		"gzip;q=0.001,gzip;q=0.002": {Gzip: 0.002},
	} {
		assert.Equal(t, want, ParseAcceptEncoding([]string{in}), "%q", in)
	}
}

func TestFromKeys(t *testing.T) {
	c, errs := FromKeys(nil)
	assert.Empty(t, errs)
	p, err := New(c)
	require.NoError(t, err)
	assert.Nil(t, p, "ingress-nginx compresses nothing by default")

	c, errs = FromKeys(map[string]string{"use-gzip": "true", "gzip-level": "5", "gzip-min-length": "100",
		"gzip-types": "application/json text/css", "enable-brotli": "true", "brotli-level": "0"})
	assert.Empty(t, errs)
	assert.Equal(t, Config{Gzip: true, GzipLevel: 5, GzipMinLength: 100, GzipTypes: []string{"application/json", "text/css"},
		Brotli: true, BrotliLevel: 0, BrotliMinLength: DefaultBrotliMinLength}, c)

	c, errs = FromKeys(map[string]string{"use-gzip": "yes", "gzip-level": "10", "gzip-min-length": "-1", "brotli-types": "text"})
	assert.Len(t, errs, 4)
	assert.Equal(t, Defaults().GzipLevel, c.GzipLevel, "an invalid value keeps the default")
	assert.False(t, c.Gzip)
}

// A response too short for brotli's minimum but long enough for gzip's is
// gzipped when the client takes both, with its length known or not (as
// nginx does); shorter than both, it goes as is.
func TestShortForBrotliStillGzipped(t *testing.T) {
	c := Defaults()
	c.Brotli, c.GzipMinLength, c.BrotliMinLength = true, 100, 1024
	p := policy(t, c)
	for _, tc := range []struct {
		n       int
		length  bool
		want    string
		comment string
	}{
		{611, true, "gzip", "Content-Length between the two minimums"},
		{611, false, "gzip", "length unknown, body between the two minimums"},
		{2000, true, "br", "long enough for the preferred codec"},
		{2000, false, "br", "length unknown, long enough for the preferred codec"},
		{50, true, "", "shorter than both"},
		{50, false, "", "length unknown, shorter than both"},
	} {
		s, client := serve(t, p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if tc.length {
				w.Header().Set("Content-Length", strconv.Itoa(tc.n))
			}
			io.WriteString(w, strings.Repeat("a", tc.n))
		})
		req, _ := http.NewRequest("GET", s.URL, nil)
		req.Header.Set("Accept-Encoding", "gzip, br")
		resp, err := client.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, tc.want, resp.Header.Get("Content-Encoding"), tc.comment)
		assert.Equal(t, strings.Repeat("a", tc.n), decode(t, tc.want, b), tc.comment)
	}
}
