//go:build !linux

package upstream

import "net"

// peerClosed cannot peek without blocking here; idle connections are
// trusted until they fail.
func peerClosed(net.Conn) bool { return false }

// quietFD is never called here: no connection has a descriptor to peek.
func quietFD(int) bool { return true }

// bytesWaiting is never called here (see quietFD).
func bytesWaiting(int) bool { return false }
