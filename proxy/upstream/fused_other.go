//go:build !linux

package upstream

import (
	"net"
	"syscall"
)

// fusable is nil off Linux: requests are written and answers read apart.
func fusable(net.Conn) syscall.RawConn { return nil }

// fused is never reached (nothing is left pending without a RawConn); it
// writes and reads apart all the same.
func (r *connReader) fused(p []byte) (int, error) {
	req := r.pending
	r.pending = nil
	if _, err := r.c.nc.Write(req); err != nil {
		r.werr = err
		return 0, err
	}
	return r.c.nc.Read(p)
}

func (r *connReader) stepFused(uintptr) bool { return true }
