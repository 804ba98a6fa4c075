package proxy

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"weir.dev/weir/proxy/wire"
)

// h1Response is the http.ResponseWriter of Weir's HTTP/1.x server. The head
// is written when the framing is known: a body that the handler finishes
// without flushing, up to pendingMax bytes, gets a Content-Length and goes
// out with its head in one write; a longer or flushed body without a
// Content-Length is chunked (HTTP/1.1) or ends with the connection
// (HTTP/1.0). Header fields are written only if they are valid, whatever
// their source.
type h1Response struct {
	ex          *h1Exchange
	status      int
	wroteHeader bool
	committed   bool // the head is in the connection's buffer
	chunked     bool
	bodyless    bool  // HEAD, 204, 304: nothing after the head
	declared    int64 // Content-Length set by the handler, or -1
	written     int64
	closeAfter  bool
}

// pendingMax is the largest body framed by a computed Content-Length.
const pendingMax = 4 << 10

func (w *h1Response) header() http.Header { return w.ex.c.header }

// exchangeRoom implements exchangeRoom: the handler's record lives in the
// request's allocation.
func (w *h1Response) exchangeRoom() *exchange { return &w.ex.hx }

// endpointHeader implements endpointHeaderRoom.
func (w *h1Response) endpointHeader() http.Header {
	c := w.ex.c
	if c.upHeader == nil {
		c.upHeader = make(http.Header, 8)
	}
	return c.upHeader
}

// wireHeadSize implements wireHead.
func (w *h1Response) wireHeadSize() int { return w.ex.head }

// Header implements http.ResponseWriter.
func (w *h1Response) Header() http.Header { return w.ex.c.header }

// WriteHeader implements http.ResponseWriter. Informational answers
// (other than 101, which only Hijack may follow) go out at once.
func (w *h1Response) WriteHeader(code int) {
	if w.wroteHeader || code < 100 || code > 999 {
		return
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		bw := w.ex.c.bw
		bw.WriteString("HTTP/1.1 ")
		bw.WriteString(statusLine(code))
		bw.WriteString("\r\n")
		w.writeFields(bw)
		bw.WriteString("\r\n")
		bw.Flush()
		return
	}
	w.wroteHeader, w.status, w.declared = true, code, -1
	h := w.header()
	w.bodyless = w.ex.req.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified
	if cl := h["Content-Length"]; len(cl) == 1 && code != http.StatusNoContent {
		if n, err := wire.ContentLength(cl); err == nil {
			w.declared = n
		} else {
			delete(h, "Content-Length")
		}
	} else {
		delete(h, "Content-Length")
	}
}

// Write implements http.ResponseWriter.
func (w *h1Response) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.bodyless {
		if w.ex.req.Method == http.MethodHead {
			return len(p), nil // as net/http: written, not sent
		}
		return 0, http.ErrBodyNotAllowed
	}
	if w.declared >= 0 && w.written+int64(len(p)) > w.declared {
		return 0, http.ErrContentLength
	}
	c := w.ex.c
	if !w.committed && w.declared < 0 && len(c.pending)+len(p) <= pendingMax {
		c.pending = append(c.pending, p...)
		w.written += int64(len(p))
		return len(p), nil
	}
	if !w.committed {
		w.commit(false)
	}
	w.written += int64(len(p))
	if w.chunked {
		writeChunk(c.bw, p)
	} else if _, err := c.bw.Write(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func writeChunk(bw *bufio.Writer, p []byte) {
	if len(p) == 0 {
		return
	}
	var buf [16]byte
	bw.Write(strconv.AppendInt(buf[:0], int64(len(p)), 16))
	bw.WriteString("\r\n")
	bw.Write(p)
	bw.WriteString("\r\n")
}

// commit writes the head into the connection's buffer, then the body held
// so far; final says the handler has returned, so that body is all of it.
func (w *h1Response) commit(final bool) {
	c, r := w.ex.c, &w.ex.req
	w.committed = true
	h := w.header()
	switch {
	case w.bodyless || w.status < 200:
	case w.declared >= 0:
	case final:
		h["Content-Length"] = []string{strconv.Itoa(len(c.pending))}
		w.declared = int64(len(c.pending))
	case r.ProtoMinor == 1:
		w.chunked = true
	default:
		w.closeAfter = true // HTTP/1.0: the body ends with the connection
	}
	if wire.HasToken(h["Connection"], "close") || !c.srv.keepAlive() || r.Close {
		w.closeAfter = true
	}
	bw := c.bw
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(statusLine(w.status))
	bw.WriteString("\r\n")
	w.writeFields(bw)
	if h["Date"] == nil {
		bw.WriteString("Date: ")
		bw.WriteString(httpDate())
		bw.WriteString("\r\n")
	}
	switch {
	case w.closeAfter:
		bw.WriteString("Connection: close\r\n")
	case r.ProtoMinor == 0:
		bw.WriteString("Connection: keep-alive\r\n")
	}
	if w.chunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	bw.WriteString("\r\n")
	if len(c.pending) > 0 {
		if w.chunked {
			writeChunk(bw, c.pending)
		} else {
			bw.Write(c.pending)
		}
		c.pending = c.pending[:0]
	}
}

// writeFields writes the handler's header fields less the ones the server
// frames itself, and trailers, which follow the body.
func (w *h1Response) writeFields(bw *bufio.Writer) {
	for k, vs := range w.header() {
		switch k {
		case "Connection", "Transfer-Encoding", "Trailer", "Keep-Alive":
			continue // commit writes the framing
		}
		if strings.HasPrefix(k, http.TrailerPrefix) || !wire.ValidToken(k) {
			continue
		}
		for _, v := range vs {
			if wire.ValidFieldValue(v) {
				wire.WriteField(bw, k, v)
			}
		}
	}
}

// finish completes the answer after the handler returned and reports
// whether the connection can carry another request.
func (w *h1Response) finish() bool {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(true)
	}
	bw := w.ex.c.bw
	if w.chunked {
		bw.WriteString("0\r\n")
		for k, vs := range w.header() {
			name, ok := strings.CutPrefix(k, http.TrailerPrefix)
			if !ok || !wire.ValidToken(name) {
				continue
			}
			for _, v := range vs {
				if wire.ValidFieldValue(v) {
					wire.WriteField(bw, name, v)
				}
			}
		}
		bw.WriteString("\r\n")
	}
	if err := bw.Flush(); err != nil {
		return false
	}
	short := !w.bodyless && w.declared >= 0 && w.written < w.declared
	return !w.closeAfter && !short
}

// spliceConn returns the client's TCP connection when a body of n bytes,
// all of the response's, may be written to it straight (spliceBody): plain
// TCP, the head not yet sent or sent with that length, nothing written.
func (w *h1Response) spliceConn(n int64) *net.TCPConn {
	c := w.ex.c
	if !w.wroteHeader || w.bodyless || w.chunked || w.declared != n || w.written != 0 || c.tls != nil || c.hijacked {
		return nil
	}
	tc, _ := c.nc.(*net.TCPConn)
	return tc
}

// Flush implements http.Flusher.
func (w *h1Response) Flush() { w.FlushError() }

// FlushError is what http.ResponseController's Flush calls.
func (w *h1Response) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(false)
	}
	return w.ex.c.bw.Flush()
}

// Hijack hands the connection to the handler (WebSocket tunnels): with it
// the bytes the client sent after its head, and the writer.
func (w *h1Response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c := w.ex.c
	if c.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if c.raw.inside {
		// Never reached: requests that may upgrade are served outside the
		// read wait (servableInWait), whose lock a tunnel's reads would wait on.
		return nil, nil, http.ErrNotSupported
	}
	c.watch.disarm()
	c.hijacked = true
	c.nc.SetDeadline(time.Time{}) // and h1Sender leaves a hijacked connection's alone
	var nc net.Conn = c.nc
	if c.rd.has {
		nc = &savedByteConn{Conn: c.nc, rd: &c.rd} // a byte the watch read ahead
	}
	return nc, bufio.NewReadWriter(c.br, c.bw), nil
}

// savedByteConn is a hijacked connection whose reads start with the byte
// a watch read ahead.
type savedByteConn struct {
	net.Conn
	rd *savedByteReader
}

func (s *savedByteConn) Read(p []byte) (int, error) { return s.rd.Read(p) }

// SetReadDeadline and SetWriteDeadline are what http.ResponseController
// calls (the client body's timeout).
func (w *h1Response) SetReadDeadline(t time.Time) error {
	c := w.ex.c
	return c.recv.setElsewhere(c.nc, t) // a transport's goroutine may call it
}
func (w *h1Response) SetWriteDeadline(t time.Time) error {
	w.ex.c.send.at = t // the send timeout moves it on once it is near
	return w.ex.c.nc.SetWriteDeadline(t)
}

// EnableFullDuplex: the body can be read while the answer is written.
func (w *h1Response) EnableFullDuplex() error { return nil }

// statusLines holds "200 OK" and the like for every status code.
var statusLines = func() (t [1000]string) {
	for code := 100; code < 1000; code++ {
		text := http.StatusText(code)
		if text == "" {
			text = "status code " + strconv.Itoa(code)
		}
		t[code] = strconv.Itoa(code) + " " + text
	}
	return t
}()

func statusLine(code int) string { return statusLines[code] }

// httpDate is the Date field value, formatted once a second.
func httpDate() string {
	now := time.Now()
	if d := cachedDate.Load(); d != nil && d.sec == now.Unix() {
		return d.val
	}
	d := &dateValue{sec: now.Unix(), val: now.UTC().Format(http.TimeFormat)}
	cachedDate.Store(d)
	return d.val
}

type dateValue struct {
	sec int64
	val string
}

var cachedDate atomic.Pointer[dateValue]
