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
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Only "would block" means open and quiet; end of stream, data and
		// errors all mean the connection must not be reused.
		closed = rerr != syscall.EAGAIN && rerr != syscall.EWOULDBLOCK
		return true // never wait for readiness
	})
	return closed || err != nil
}
