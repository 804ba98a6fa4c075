package localcluster

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// lbBackends are the endpoints one Service port leads to: the ready ones,
// and the serving-but-terminating ones kube-proxy falls back to while none
// is ready.
type lbBackends struct {
	ready, serving []netip.AddrPort
}

// pick returns the endpoints a new connection tries, in order: up to
// maxDialAttempts distinct ones of the preferred set, from a random one on.
func (b *lbBackends) pick() []netip.AddrPort {
	set := b.ready
	if len(set) == 0 {
		set = b.serving
	}
	n := min(len(set), maxDialAttempts)
	out := make([]netip.AddrPort, 0, n)
	start := rand.IntN(max(len(set), 1))
	for i := range n {
		out = append(out, set[(start+i)%len(set)])
	}
	return out
}

// With DNAT (kube-proxy) a client whose endpoint refuses gets the refusal at
// connect, before it sent anything, and a client library or browser retries.
// Here the proxy has already accepted the client's connection, and a reset
// after that looks to the client like a failure mid-request, which it may
// not retry. So the proxy retries for it, on another endpoint, as
// kube-proxy's former userspace mode did: only a connection that could not
// be made, so nothing was sent.
const (
	maxDialAttempts = 3
	lbDialTimeout   = 2 * time.Second
)

// lbListener is one Service port on its load-balancer address: a userspace
// TCP proxy that spreads connections over the port's endpoints.
type lbListener struct {
	ln       net.Listener
	logf     Logf
	backends atomic.Pointer[lbBackends]

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func listenLB(addr netip.AddrPort, logf Logf) (*lbListener, error) {
	ln, err := net.Listen("tcp", addr.String())
	if err != nil {
		return nil, err
	}
	p := &lbListener{ln: ln, logf: logf, conns: map[net.Conn]struct{}{}}
	p.backends.Store(&lbBackends{})
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

func (p *lbListener) setBackends(b *lbBackends) { p.backends.Store(b) }

func (p *lbListener) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // closed
		}
		if !p.track(c, true) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.track(c, false)
			p.handle(c)
		}()
	}
}

// track adds or removes a client connection; false once the listener closed.
func (p *lbListener) track(c net.Conn, add bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !add {
		delete(p.conns, c)
		return true
	}
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

// handle connects the client to an endpoint and copies both ways until both
// sides have finished. Without an endpoint, or when none of those tried
// accepts, the client is reset, as a kube-proxy reject rule would refuse it.
func (p *lbListener) handle(client net.Conn) {
	defer client.Close()
	var backend net.Conn
	for _, ep := range p.backends.Load().pick() {
		c, err := net.DialTimeout("tcp", ep.String(), lbDialTimeout)
		if err == nil {
			backend = c
			break
		}
		p.logf("loadbalancer: %s: endpoint %s: %v", p.ln.Addr(), ep, err)
	}
	if backend == nil {
		if tc, ok := client.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with RST
		}
		return
	}
	defer backend.Close()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.conns[backend] = struct{}{}
	p.mu.Unlock()
	defer p.track(backend, false)
	done := make(chan struct{})
	go func() {
		defer close(done)
		pipe(backend, client)
	}()
	pipe(client, backend)
	<-done
}

// pipe copies src to dst, then half-closes dst so the peer sees the end.
func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	} else {
		_ = dst.Close()
	}
}

// close stops accepting, ends every open connection and waits for the
// goroutines.
func (p *lbListener) close(ctx context.Context) {
	p.mu.Lock()
	p.closed = true
	_ = p.ln.Close()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
