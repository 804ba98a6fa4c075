package wire

import (
	"net"
	"syscall"
)

// TCPRawConn returns the descriptor of a plain TCP connection, for reads
// and writes made inside Go's poller wait (syscall.RawConn); nil for any
// other connection: TLS, and wrappers that may hold bytes of their own
// (the PROXY protocol's).
func TCPRawConn(nc net.Conn) syscall.RawConn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}
