package upstream

import (
	"net"
	"syscall"
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
	var buf [1]byte
	closed := false
	// Control, not Read: the peek never waits, so the read deadline left
	// from the last exchange (armProbe's is short) must not fail it.
	err = rc.Control(func(fd uintptr) {
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Only "would block" means open and quiet; end of stream, data and
		// errors all mean the connection must not be reused.
		closed = rerr != syscall.EAGAIN && rerr != syscall.EWOULDBLOCK
	})
	return closed || err != nil
}
