//go:build !linux

package upstream

import "net"

// Splice is Linux's alone: elsewhere bodies are copied (handled false).
func (b *body) Splice(dst *net.TCPConn, arm func() error) (int64, bool, error) { return 0, false, nil }
