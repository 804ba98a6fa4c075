package proxy

import (
	"errors"
	"net"
	"net/http"

	"weir.dev/weir/proxy/upstream"
)

// spliceMin is the shortest body spliced: below it, setting up the pipe
// costs more than the copies it saves.
const spliceMin = 64 << 10

// splicer is an endpoint's response body that can move itself to a TCP
// connection inside the kernel (upstream's body, on Linux).
type splicer interface {
	Splice(dst *net.TCPConn, arm func() error) (int64, bool, error)
}

// spliceBody sends a response body of known length that nothing
// transforms straight from the endpoint's connection to the client's
// (splice(2), no copy through Weir's memory) when both are plain TCP and
// the client's answer is Weir's HTTP/1.x writer itself: not wrapped (CORS,
// auth cookies, limit-rate, mirrors), not TLS, not HTTP/2. handled is false
// when it does not apply; then nothing was written.
func spliceBody(w http.ResponseWriter, resp *http.Response) (int64, bool, error) {
	hw, ok := w.(*h1Response)
	sb, ok2 := resp.Body.(splicer)
	if !ok || !ok2 || resp.ContentLength < spliceMin {
		return 0, false, nil
	}
	dst := hw.spliceConn(resp.ContentLength)
	if dst == nil {
		return 0, false, nil
	}
	if err := hw.FlushError(); err != nil { // the head goes first
		return 0, true, errClientGone
	}
	c := hw.ex.c
	n, handled, err := sb.Splice(dst, func() error { return c.send.refresh(c.nc, c.srv.opts.SendTimeout) })
	hw.written += n
	if !handled {
		return 0, false, nil
	}
	if _, ok := errors.AsType[*upstream.DestError](err); ok {
		return n, true, errClientGone
	}
	return n, true, err
}
