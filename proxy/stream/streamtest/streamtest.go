// Package streamtest holds the loopback backends that tests connect Weir
// to: those of the TCP and UDP services (proxy/stream, cmd/weir), and the
// accept loop under the proxy's own test backends (proxy).
package streamtest

import (
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// ServeTCP accepts connections on a loopback port until the test ends and
// runs handle on each in its own goroutine, closing the connection after.
// It returns the address.
func ServeTCP(t testing.TB, handle func(net.Conn)) *net.TCPAddr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr)
}

// Echo is a TCP backend sending back every byte it reads, for as long as
// the connection lasts.
func Echo(t testing.TB) *net.TCPAddr {
	t.Helper()
	return ServeTCP(t, func(c net.Conn) { _, _ = io.Copy(c, c) })
}

// UDPEcho is a UDP backend on loopback answering each datagram with prefix
// and the datagram.
func UDPEcho(t testing.TB, prefix string) *net.UDPAddr {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(append([]byte(prefix), buf[:n]...), from)
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr)
}
