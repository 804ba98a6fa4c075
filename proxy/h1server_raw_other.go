//go:build !linux

package proxy

import (
	"net"
	"syscall"
)

// rawConnOf is nil off Linux: every request is read the ordinary way.
func rawConnOf(net.Conn) syscall.RawConn { return nil }

// rawReader is never used without a RawConn.
type rawReader struct {
	fd   int
	full bool
}

func (r *rawReader) Read([]byte) (int, error) { return 0, errWouldBlock }

// peekClient is never called without a RawConn.
func peekClient(syscall.RawConn) (gone, quiet bool) { return false, false }
