package stream

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"weir.dev/weir/proxy/proxyproto"
)

// DefaultIdleTimeout closes a spliced connection after this long without a
// byte either way (ingress-nginx's proxy-stream-timeout, 600s).
const DefaultIdleTimeout = 600 * time.Second

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// closeWriter is a connection that can end one direction (TCP half-close).
type closeWriter interface{ CloseWrite() error }

// Splice copies a to b and b to a until both directions have ended or
// nothing moved either way for idle; then it closes both. When one side
// ends its sending (EOF), the other side's sending direction is closed too
// (half-close), and the other direction goes on. It returns the bytes
// copied from a to b and from b to a.
func Splice(a, b net.Conn, idle time.Duration) (int64, int64) {
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	var ab, ba int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ab = pipe(b, a, idle, &last)
	}()
	ba = pipe(a, b, idle, &last)
	wg.Wait()
	a.Close()
	b.Close()
	return ab, ba
}

// pipe copies src to dst. A read that times out while the other direction
// moved within idle waits again; otherwise the connection is idle and both
// ends are closed, which also ends the other direction.
func pipe(dst, src net.Conn, idle time.Duration, last *atomic.Int64) int64 {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var total int64
	for {
		_ = src.SetReadDeadline(time.Now().Add(idle))
		n, err := src.Read(buf)
		if n > 0 {
			last.Store(time.Now().UnixNano())
			_ = dst.SetWriteDeadline(time.Now().Add(idle))
			w, werr := dst.Write(buf[:n])
			total += int64(w)
			if werr != nil {
				abort(dst, src)
				return total
			}
		}
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && time.Since(time.Unix(0, last.Load())) < idle {
			continue // the other direction is busy: not idle
		}
		if errors.Is(err, os.ErrDeadlineExceeded) || !isEOF(err) {
			abort(dst, src)
			return total
		}
		// A clean end of stream: pass the half-close on.
		if !closeWrite(dst) {
			abort(dst, src)
		}
		return total
	}
}

func isEOF(err error) bool { return errors.Is(err, io.EOF) }

// closeWrite half-closes c, looking through the wrappers Weir puts around
// accepted connections; false when no layer can.
func closeWrite(c net.Conn) bool {
	for {
		switch v := c.(type) {
		case closeWriter:
			return v.CloseWrite() == nil
		case *proxyproto.Conn:
			c = v.Conn
		case *replayConn:
			c = v.Conn
		default:
			return false
		}
	}
}

// abort closes both connections, which ends the other direction's copy.
func abort(a, b net.Conn) {
	a.Close()
	b.Close()
}
