package upstream

import (
	"net"
	"syscall"
	"unsafe"

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

// quietFD reports whether nothing waits on the descriptor of an idle
// connection: not a byte, not an end of stream, not an error. One receive
// that peeks and does not wait, straight on the descriptor (its owner
// holds the connection idle, so it cannot be closed meanwhile).
func quietFD(fd int) bool {
	_, errno := peekFD(fd)
	return errno == syscall.EAGAIN || errno == syscall.EWOULDBLOCK
}

// bytesWaiting reports whether at least one byte waits on the descriptor.
func bytesWaiting(fd int) bool {
	n, errno := peekFD(fd)
	return errno == 0 && n == 1
}

// peekFD receives one byte without taking it and without waiting.
func peekFD(fd int) (uintptr, syscall.Errno) {
	var b [1]byte
	n, _, errno := syscall.Syscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), 1,
		syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
	return n, errno
}
