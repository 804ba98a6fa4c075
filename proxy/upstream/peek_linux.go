package upstream

import (
	"net"
	"syscall"

	"weir.dev/weir/proxy/wire"
)

// peerClosed peeks at an idle connection without blocking: end of stream or
// unexpected data mean it is not reusable; "would block" means it is open.
func peerClosed(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	// Through Control, not Read: the peek never waits, so the read deadline
	// left from the last exchange (armProbe's is short) must not fail it.
	// Only "would block" means open and quiet; end of stream, data and
	// errors all mean the connection must not be reused.
	_, err = wire.PeekNoWait(rc)
	return err != syscall.EAGAIN && err != syscall.EWOULDBLOCK
}
