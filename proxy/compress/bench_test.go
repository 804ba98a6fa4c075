package compress

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
)

// discardWriter is a ResponseWriter that drops the body.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkGzip compresses one response per operation through Writer at
// ingress-nginx's default level (1), written in the proxy's 32 KiB pieces.
// The body is WEIR_GZIP_CORPUS when set (conformance/bench/gzip.sh passes
// the file nginx serves), else generated text. MB/s is the CPU cost per
// MiB on one core.
func BenchmarkGzip(b *testing.B) {
	body := benchCorpus(b)
	p, err := New(Defaults())
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	w := &discardWriter{h: http.Header{}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		w.h["Content-Type"] = []string{"text/plain"}
		w.h["Content-Length"] = []string{strconv.Itoa(len(body))}
		cw := p.Wrap(w, req)
		for off := 0; off < len(body); off += 32 << 10 {
			cw.Write(body[off:min(off+32<<10, len(body))])
		}
		if err := cw.Close(false); err != nil {
			b.Fatal(err)
		}
		if w.h.Get("Content-Encoding") != "gzip" {
			b.Fatal("not compressed")
		}
	}
}

func benchCorpus(b *testing.B) []byte {
	if f := os.Getenv("WEIR_GZIP_CORPUS"); f != "" {
		body, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		return body
	}
	var body []byte
	for i := 0; len(body) < 1<<20; i++ {
		body = strconv.AppendInt(append(body, `{"id":`...), int64(i), 10)
		body = append(body, `,"name":"item","tags":["a","b"],"ok":true}`+"\n"...)
	}
	return body
}
