package main

import (
	"context"
	"net"
	"syscall"
)

// listenTCP listens on addr with TCP keep-alive probes set on the listening
// socket, where Linux hands them on to every connection it accepts. net's
// own default sets them on each accepted connection instead: four
// setsockopt calls per connection, about 4 % of the CPU when every request
// comes on a new connection (docs/performance.md). The probes are net's
// defaults: after 15 s idle, every 15 s, 9 of them.
func listenTCP(addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1, Control: setKeepAlive}
	return lc.Listen(context.Background(), "tcp", addr)
}

func setKeepAlive(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		for _, o := range [...]struct{ level, opt, v int }{
			{syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
			{syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, 15},
			{syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, 15},
			{syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, 9},
		} {
			if serr = syscall.SetsockoptInt(int(fd), o.level, o.opt, o.v); serr != nil {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}
