package upstream

import (
	"fmt"
	"io"
	"net"
	"syscall"
)

// Flags of splice(2), which package syscall does not name.
const (
	spliceMove     = 0x1
	spliceNonblock = 0x2
	// pipeSize is asked of the kernel for the pipe a body moves through
	// (a load per system call, as a socket's buffer holds at most a few
	// hundred KiB); the pipe gets what it grants: past a user's share of
	// pipe memory, less, and each load is then smaller.
	pipeSize = 256 << 10
)

// Splice moves what is left of a body framed by Content-Length from the
// endpoint's TCP connection to dst inside the kernel (splice(2) through a
// pipe), the bytes already buffered first. handled is false, with nothing
// done, when the body cannot be spliced (chunked, until close, not TCP).
// Each read from the endpoint waits at most the read timeout, as Read's;
// arm is called before each write to dst (the caller's send timeout); a
// failure to write, or to arm, is a *DestError. At the end the connection goes back
// to the pool when the body arrived whole, and is closed otherwise.
func (b *body) Splice(dst *net.TCPConn, arm func() error) (n int64, handled bool, err error) {
	src, ok := b.c.nc.(*net.TCPConn)
	if b.finished || b.r != &b.lr || b.lr.N <= 0 || !ok {
		return 0, false, nil
	}
	srcRaw, err1 := src.SyscallConn()
	dstRaw, err2 := dst.SyscallConn()
	if err1 != nil || err2 != nil {
		return 0, false, nil
	}
	var p [2]int
	if syscall.Pipe2(p[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK) != nil {
		return 0, false, nil
	}
	defer syscall.Close(p[0])
	defer syscall.Close(p[1])
	size := int64(64 << 10) // the default pipe size; a load is what splice moved, never assumed
	if got, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(p[0]), syscall.F_SETPIPE_SZ, pipeSize); e == 0 {
		size = int64(got)
	}
	n, err = b.splice(srcRaw, dst, dstRaw, arm, p, size)
	b.finish(err == nil)
	return n, true, err
}

// splice is Splice's loop: the buffered bytes, then pipe loads from src.
func (b *body) splice(srcRaw syscall.RawConn, dst *net.TCPConn, dstRaw syscall.RawConn, arm func() error, p [2]int, size int64) (int64, error) {
	var total int64
	if k := min(int64(b.c.br.Buffered()), b.lr.N); k > 0 {
		buf, _ := b.c.br.Peek(int(k))
		if err := arm(); err != nil {
			return total, &DestError{Err: err}
		}
		m, err := dst.Write(buf)
		b.c.br.Discard(m)
		b.lr.N -= int64(m)
		total += int64(m)
		if err != nil {
			return total, &DestError{Err: err}
		}
	}
	for b.lr.N > 0 {
		b.c.armRead(b.read)
		n, err := spliceIn(srcRaw, p[1], min(b.lr.N, size))
		if err != nil {
			return total, fmt.Errorf("read response body: %w", err)
		}
		if n == 0 {
			return total, io.ErrUnexpectedEOF // the endpoint closed before Content-Length bytes
		}
		b.lr.N -= n
		for n > 0 {
			if err := arm(); err != nil {
				return total, &DestError{Err: err}
			}
			m, err := spliceOut(dstRaw, p[0], n)
			total += m
			n -= m
			if err != nil {
				return total, &DestError{Err: err}
			}
		}
	}
	return total, nil
}

// spliceIn moves up to max bytes from the socket rc into the pipe's write
// end, waiting for the socket (and its read deadline) when it has none;
// 0 bytes and no error is the end of the stream.
func spliceIn(rc syscall.RawConn, pw int, max int64) (int64, error) {
	var n int64
	var serr error
	err := rc.Read(func(fd uintptr) bool {
		n, serr = spliceCall(int(fd), pw, max)
		return serr != syscall.EAGAIN
	})
	if err == nil {
		err = serr
	}
	return n, err
}

// spliceOut moves up to max bytes from the pipe's read end to the socket
// rc, waiting for the socket when it cannot take them.
func spliceOut(rc syscall.RawConn, pr int, max int64) (int64, error) {
	var n int64
	var serr error
	err := rc.Write(func(fd uintptr) bool {
		n, serr = spliceCall(pr, int(fd), max)
		return serr != syscall.EAGAIN
	})
	if err == nil {
		err = serr
	}
	return n, err
}

// spliceCall is one splice(2), retried when a signal interrupts it.
func spliceCall(in, out int, max int64) (int64, error) {
	for {
		n, err := syscall.Splice(in, nil, out, nil, int(max), spliceMove|spliceNonblock)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, err
		}
		return n, nil
	}
}
