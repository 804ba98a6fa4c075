package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/proxy/compress"
)

func TestResponsesCompressedThroughTheProxy(t *testing.T) {
	h := newHarness(t, Options{})
	page := strings.Repeat("<p>hello</p>", 200)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		if r.Header.Get("Range") != "" {
			w.Header().Set("Content-Range", "bytes 0-9/2400")
			w.WriteHeader(http.StatusPartialContent)
			io.WriteString(w, page[:10])
			return
		}
		io.WriteString(w, page)
	}))
	t.Cleanup(backend.Close)
	p, err := compress.New(compress.Defaults())
	require.NoError(t, err)
	rt := routeTo("z.test", "/", backendOf("web", backend))
	rt.Action.Compression = p
	h.publish(rt, routeTo("plain.test", "/", backendOf("web", backend)))

	get := func(host string, hdr ...string) (*http.Response, []byte) {
		req := httptest.NewRequest("GET", "http://"+host+"/", nil)
		req.RequestURI = ""
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		// the harness client does not decode what it did not ask for
		resp, body := h.do(req)
		return resp, []byte(body)
	}
	resp, body := get("z.test", "Accept-Encoding", "gzip")
	require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
	assert.Equal(t, "Accept-Encoding", resp.Header.Get("Vary"))
	z, err := gzip.NewReader(strings.NewReader(string(body)))
	require.NoError(t, err)
	plain, err := io.ReadAll(z)
	require.NoError(t, err)
	assert.Equal(t, page, string(plain))
	assert.Less(t, len(body), len(page)/4)

	resp, body = get("z.test", "Accept-Encoding", "gzip", "Range", "bytes=0-9")
	assert.Equal(t, 206, resp.StatusCode)
	assert.Empty(t, resp.Header.Get("Content-Encoding"), "ranges are never compressed")
	assert.Equal(t, page[:10], string(body))

	resp, _ = get("plain.test", "Accept-Encoding", "gzip")
	assert.Empty(t, resp.Header.Get("Content-Encoding"), "a route without the policy is untouched")
	assert.Empty(t, resp.Header.Get("Vary"))
}

func TestCompressedStreamFlowsThroughTheProxy(t *testing.T) {
	h := newHarness(t, Options{})
	first := strings.Repeat("event: tick\ndata: 0123456789\n\n", 20)
	next := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, first)
		w.(http.Flusher).Flush()
		select {
		case <-next:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "done")
	}))
	t.Cleanup(backend.Close)
	p, err := compress.New(compress.Defaults())
	require.NoError(t, err)
	rt := routeTo("z.test", "/", backendOf("web", backend))
	rt.Action.Compression = p
	h.publish(rt)

	req, err := http.NewRequest("GET", h.front.URL+"/", nil)
	require.NoError(t, err)
	req.Host = "z.test"
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := h.front.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
	z, err := gzip.NewReader(resp.Body)
	require.NoError(t, err)
	got := make([]byte, len(first))
	_, err = io.ReadFull(z, got)
	require.NoError(t, err, "the first events arrive, compressed, while the backend still holds the response")
	assert.Equal(t, first, string(got))
	close(next)
	rest, err := io.ReadAll(z)
	require.NoError(t, err)
	assert.Equal(t, "done", string(rest))
}
