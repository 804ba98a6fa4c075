package localcluster

import (
	"errors"
	"net/netip"
	"sync"
)

// ipam hands out Pod addresses from the cluster's /24: .2 to .199 (.1 is the
// bridge, the rest is the LoadBalancer pool, see layout.go).
type ipam struct {
	mu   sync.Mutex
	l    layout
	used map[netip.Addr]bool
	next netip.Addr
}

func newIPAM(l layout) *ipam {
	return &ipam{l: l, used: map[netip.Addr]bool{}, next: l.bridgeAddr.Next()}
}

// allocate returns a free address, cycling through the range so a released
// address is not reused at once (stale endpoints point nowhere, not at a new
// Pod).
func (a *ipam) allocate() (netip.Addr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for range lastPodHost + 1 {
		addr := a.next
		a.next = addr.Next()
		if !a.l.podPrefix.Contains(a.next) || a.next.As4()[3] > lastPodHost {
			a.next = a.l.bridgeAddr.Next()
		}
		if a.l.podPrefix.Contains(addr) && addr.As4()[3] >= 2 && addr.As4()[3] <= lastPodHost && !a.used[addr] {
			a.used[addr] = true
			return addr, nil
		}
	}
	return netip.Addr{}, errors.New("pod address range exhausted")
}

func (a *ipam) release(addr netip.Addr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.used, addr)
}
