package wire

import "syscall"

// PeekNoWait looks at the next byte waiting on rc's descriptor without
// taking it and without waiting (MSG_PEEK|MSG_DONTWAIT), through Control,
// so that it works while another goroutine holds the read lock or a read
// deadline has passed. n is 1 when a byte waits and 0 at the end of the
// stream; err is Control's error or the receive's (EAGAIN: nothing yet).
func PeekNoWait(rc syscall.RawConn) (n int, err error) {
	var b [1]byte
	var rerr error
	if err := rc.Control(func(fd uintptr) {
		n, _, rerr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	}); err != nil {
		return 0, err
	}
	return n, rerr
}
