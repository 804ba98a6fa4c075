package stream

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// portListener is what serves one service port: a TCP listener or a UDP
// socket.
type portListener interface {
	// retarget sends the clients from now on to s.
	retarget(s *Service)
	address() net.Addr
	// drain stops taking new clients; the open connections (sessions) go on.
	drain()
	// close releases the port.
	close()
}

// ports is the bookkeeping the TCP and UDP managers share: one listener per
// service port, opened when its port appears, retargeted when its entry
// changes, closed when it goes; and the connections (sessions) open on all
// of them, for the drain at shutdown.
type ports[L portListener] struct {
	proto string // "TCP" or "UDP"
	bind  func(port int) string
	// listen binds addr and serves it for s; label names it in metrics
	// and logs.
	listen func(addr, label string, s *Service) (L, error)
	opts   Options
	open   tracker

	mu       sync.Mutex
	byPort   map[int]L
	shutdown bool // Shutdown began: Apply opens nothing more
}

func newPorts[L portListener](proto string, bind func(port int) string, opts Options,
	listen func(addr, label string, s *Service) (L, error)) *ports[L] {
	return &ports[L]{proto: proto, bind: bind, listen: listen, opts: opts.withDefaults(), byPort: map[int]L{}}
}

// Apply makes the listeners match svcs: it opens the ports that are new,
// closes the ones that are gone and retargets the rest without touching
// their open connections. It returns one error per port that could not be
// bound (that service is not served; Apply tries again next time); every
// other port is served.
func (p *ports[L]) Apply(svcs []Service) []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shutdown {
		return nil
	}
	want := make(map[int]bool, len(svcs))
	var errs []error
	for i := range svcs {
		s := svcs[i]
		want[s.Port] = true
		if l, ok := p.byPort[s.Port]; ok {
			l.retarget(&s)
			continue
		}
		label := strings.ToLower(p.proto) + "/" + strconv.Itoa(s.Port)
		l, err := p.listen(p.bind(s.Port), label, &s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s service port %d: %w", p.proto, s.Port, err))
			continue
		}
		p.byPort[s.Port] = l
	}
	for port, l := range p.byPort {
		if !want[port] {
			l.close()
			delete(p.byPort, port)
		}
	}
	return errs
}

// Close closes every port; open connections (sessions) run on until they
// end.
func (p *ports[L]) Close() { p.Apply(nil) }

// Addr is the address a port is bound to (nil when none).
func (p *ports[L]) Addr(port int) net.Addr {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l, ok := p.byPort[port]; ok {
		return l.address()
	}
	return nil
}

// Shutdown drains: every port stops taking new clients at once, the open
// connections (sessions) run until they end or ctx does, then those left
// are closed, logged and counted (result "cut"), and the ports released.
// It returns how many were cut. Apply does nothing afterwards.
func (p *ports[L]) Shutdown(ctx context.Context) int {
	p.mu.Lock()
	p.shutdown = true
	for _, l := range p.byPort {
		l.drain()
	}
	p.mu.Unlock()
	cut := p.open.cut(ctx, p.opts, p.proto+" services")
	p.mu.Lock()
	defer p.mu.Unlock()
	for port, l := range p.byPort {
		l.close()
		delete(p.byPort, port)
	}
	return cut
}

// backoff spaces the retries of a listener whose accept (or read) fails, out
// of file descriptors for example: longer each time up to a second, as
// net/http's Server does.
type backoff time.Duration

func (b *backoff) wait(log *zap.Logger, label string, err error) {
	*b = backoff(min(max(2*time.Duration(*b), 5*time.Millisecond), time.Second))
	log.Warn("stream listener: accepting", zap.String("listener", label), zap.Error(err))
	time.Sleep(time.Duration(*b))
}
