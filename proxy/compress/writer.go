package compress

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"

	"weir.dev/weir/proxy/wire"
)

// Writer compresses one response. It decides when the response head is
// written (from its status and headers), or, when the length is unknown
// and a minimum is set, once the minimum is reached or the proxy flushes.
type Writer struct {
	w      http.ResponseWriter
	p      *Policy
	accept Accepted
	head   bool // the request is HEAD

	state  state
	code   int
	chosen *codec
	alt    *codec // the other codec the client accepts (nil: none)
	gz     *gzip.Writer
	br     *brotli.Writer
	enc    io.Writer
	held   []byte // bytes written before the decision
}

type state uint8

const (
	open        state = iota // no final status yet
	pending                  // status known, deciding by length
	passthrough              // sent as is
	compressing
)

var writers = sync.Pool{New: func() any { return new(Writer) }}

// Wrap returns a Writer for the response to r; Close must be called
// when the response is complete.
func (p *Policy) Wrap(w http.ResponseWriter, r *http.Request) *Writer {
	cw := writers.Get().(*Writer)
	held := cw.held[:0]
	*cw = Writer{w: w, p: p, head: r.Method == http.MethodHead, held: held}
	if ae := r.Header["Accept-Encoding"]; len(ae) > 0 {
		cw.accept = ParseAcceptEncoding(ae)
	}
	return cw
}

// Header is the response's header map.
func (cw *Writer) Header() http.Header { return cw.w.Header() }

// Unwrap gives http.ResponseController the client's writer.
func (cw *Writer) Unwrap() http.ResponseWriter { return cw.w }

// WriteHeader decides whether to compress (1xx heads pass through).
func (cw *Writer) WriteHeader(code int) {
	if cw.state != open {
		return
	}
	if code < 200 {
		cw.w.WriteHeader(code)
		return
	}
	cw.code = code
	c, alt := cw.choose(code)
	if c == nil {
		cw.commit(nil)
		return
	}
	if cl := cw.w.Header().Get("Content-Length"); cl != "" {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil {
			n = -1
		}
		cw.commit(fitting(n, c, alt))
		return
	}
	if c.min == 0 {
		cw.commit(c)
		return
	}
	cw.chosen, cw.alt, cw.state = c, alt, pending
}

// fitting is the first of the codecs whose minimum length n reaches (nil:
// none, or n unknown when negative). nginx does the same: a response too
// short for brotli's minimum may still be long enough for gzip's.
func fitting(n int64, cs ...*codec) *codec {
	for _, c := range cs {
		if c != nil && n >= 0 && n >= c.min {
			return c
		}
	}
	return nil
}

// choose returns the codec the client prefers for the response and the
// other one it accepts (nil for none); it adds Vary: Accept-Encoding to
// every response whose type a codec takes.
func (cw *Writer) choose(code int) (*codec, *codec) {
	h := cw.w.Header()
	ct := first(h["Content-Type"])
	g, b := &cw.p.gzip, &cw.p.brotli
	gOK, bOK := g.accepts(ct), b.accepts(ct)
	if !gOK && !bOK {
		return nil, nil
	}
	addVary(h)
	if cw.head || (code != http.StatusOK && code != http.StatusForbidden && code != http.StatusNotFound) ||
		h["Content-Range"] != nil || !identity(h["Content-Encoding"]) || wire.HasToken(h["Cache-Control"], "no-transform") {
		return nil, nil
	}
	useG, useB := gOK && cw.accept.Gzip > 0, bOK && cw.accept.Brotli > 0
	switch {
	case useB && cw.accept.Brotli >= cw.accept.Gzip:
		if useG {
			return b, g
		}
		return b, nil
	case useG:
		if useB {
			return g, b
		}
		return g, nil
	}
	return nil, nil
}

// commit writes the head, compressed with c or (nil) as is.
func (cw *Writer) commit(c *codec) {
	h := cw.w.Header()
	if c == nil {
		cw.state = passthrough
		cw.w.WriteHeader(cw.code)
		return
	}
	cw.state = compressing
	delete(h, "Content-Length")
	delete(h, "Accept-Ranges")
	if et := first(h["Etag"]); et != "" && !strings.HasPrefix(et, "W/") {
		h["Etag"] = []string{"W/" + et}
	}
	if c == &cw.p.brotli {
		h["Content-Encoding"] = []string{"br"}
		cw.br = getBrotli(cw.w, c.level)
		cw.enc = cw.br
	} else {
		h["Content-Encoding"] = []string{"gzip"}
		cw.gz = getGzip(cw.w, c.level)
		cw.enc = cw.gz
	}
	cw.w.WriteHeader(cw.code)
}

// Write compresses (or holds back, or passes) body bytes.
func (cw *Writer) Write(b []byte) (int, error) {
	if cw.state == open {
		cw.WriteHeader(http.StatusOK)
	}
	switch cw.state {
	case compressing:
		return cw.enc.Write(b)
	case pending:
		if int64(len(cw.held)+len(b)) < cw.chosen.min {
			// Held until the preferred codec's minimum; a body that ends
			// shorter gets the other codec if it is long enough (Close).
			cw.held = append(cw.held, b...)
			return len(b), nil
		}
		if err := cw.release(cw.chosen); err != nil {
			return 0, err
		}
		return cw.enc.Write(b)
	}
	return cw.w.Write(b)
}

// release decides a pending response with c (nil: as is) and writes what
// was held back.
func (cw *Writer) release(c *codec) error {
	cw.commit(c)
	if len(cw.held) == 0 {
		return nil
	}
	dst := io.Writer(cw.w)
	if cw.enc != nil {
		dst = cw.enc
	}
	_, err := dst.Write(cw.held)
	cw.held = cw.held[:0]
	return err
}

// Flush sends what is compressed so far (a pending response shorter than
// the minimum goes as is).
func (cw *Writer) Flush() {
	_ = cw.FlushError()
}

// FlushError is Flush for http.ResponseController.
func (cw *Writer) FlushError() error {
	var err error
	switch cw.state {
	case pending:
		err = cw.release(nil)
	case compressing:
		if cw.gz != nil {
			err = cw.gz.Flush()
		} else {
			err = cw.br.Flush()
		}
	}
	if err != nil {
		return err
	}
	return http.NewResponseController(cw.w).Flush()
}

// Close ends the response: the encoder's last bytes are written, unless
// abort says the response is incomplete (then the stream is left
// unterminated, so the client cannot take a cut body for a whole one). The
// Writer must not be used afterwards.
func (cw *Writer) Close(abort bool) error {
	var err error
	switch cw.state {
	case open:
		// nothing was written: net/http sends its default head
	case pending:
		if !abort {
			err = cw.release(fitting(int64(len(cw.held)), cw.alt))
			if err == nil && cw.enc != nil {
				err = cw.enc.(io.Closer).Close()
			}
		}
	case compressing:
		if !abort {
			err = cw.enc.(io.Closer).Close()
		}
	}
	if cw.gz != nil {
		putGzip(cw.gz, cw.p.gzip.level)
	}
	if cw.br != nil {
		putBrotli(cw.br, cw.p.brotli.level)
	}
	held := cw.held
	if cap(held) > 64<<10 {
		held = nil
	}
	*cw = Writer{held: held[:0]}
	writers.Put(cw)
	return err
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// identity reports a Content-Encoding that leaves the body as is.
func identity(vs []string) bool {
	for _, v := range vs {
		if t := strings.TrimSpace(v); t != "" && !strings.EqualFold(t, "identity") {
			return false
		}
	}
	return true
}

// addVary adds Accept-Encoding to Vary unless it (or "*") is there.
func addVary(h http.Header) { h["Vary"] = wire.AddVary(h["Vary"], "Accept-Encoding") }

// Encoders are pooled per level: each holds tens to hundreds of KiB.
var (
	gzipPools   [10]sync.Pool
	brotliPools [12]sync.Pool
)

func getGzip(w io.Writer, level int) *gzip.Writer {
	if z, ok := gzipPools[level].Get().(*gzip.Writer); ok {
		z.Reset(w)
		return z
	}
	z, _ := gzip.NewWriterLevel(w, level) // level checked by Config.Validate
	return z
}

func putGzip(z *gzip.Writer, level int) {
	z.Reset(io.Discard)
	gzipPools[level].Put(z)
}

func getBrotli(w io.Writer, level int) *brotli.Writer {
	if z, ok := brotliPools[level].Get().(*brotli.Writer); ok {
		z.Reset(w)
		return z
	}
	return brotli.NewWriterLevel(w, level)
}

func putBrotli(z *brotli.Writer, level int) {
	z.Reset(io.Discard)
	brotliPools[level].Put(z)
}
