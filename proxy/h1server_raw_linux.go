package proxy

import (
	"io"
	"net"
	"os"
	"syscall"

	"weir.dev/weir/proxy/wire"
)

// rawConnOf returns the descriptor of a plain TCP connection, whose next
// requests can be awaited inside its read wait (h1server_raw.go).
func rawConnOf(nc net.Conn) syscall.RawConn { return wire.TCPRawConn(nc) }

// rawReader reads the descriptor without waiting: errWouldBlock when
// nothing is there. full says the last read filled p: more may be waiting.
type rawReader struct {
	fd   int
	full bool
}

func (r *rawReader) Read(p []byte) (int, error) {
	n, err := syscall.Read(r.fd, p)
	for err == syscall.EINTR {
		n, err = syscall.Read(r.fd, p)
	}
	r.full = n == len(p) && n > 0
	switch {
	case err == syscall.EAGAIN:
		return 0, errWouldBlock
	case err != nil:
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", err)}
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// peekClient tells, without waiting, whether the client is still there
// while its request is served inside the read wait: a byte waiting (the
// next request) or nothing yet say it is; an end of stream or an error
// say it left.
func peekClient(rc syscall.RawConn) (gone, quiet bool) {
	n, err := wire.PeekNoWait(rc)
	switch {
	case err == syscall.EAGAIN || err == syscall.EINTR:
		return false, true
	case err != nil || n == 0:
		return true, false
	}
	return false, false
}
