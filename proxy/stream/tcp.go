package stream

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"

	"go.uber.org/zap"

	"weir.dev/weir/proxy/proxyproto"
)

// Service is one entry of the TCP services ConfigMap: connections to Port
// go to Target.
type Service struct {
	Port   int
	Target Target
	// DecodeProxy reads a PROXY protocol header (v1 or v2) from each
	// client first; EncodeProxy sends a v1 header to the endpoint first.
	DecodeProxy, EncodeProxy bool
}

// Manager runs one listener per TCP service port (ingress-nginx's
// --tcp-services-configmap): Apply opens the ports that are new, closes the
// ones that are gone and retargets the rest without touching their open
// connections; Shutdown drains them.
type Manager struct {
	*ports[*tcpListener]
}

// NewManager returns a Manager that listens on bind(port).
func NewManager(bind func(port int) string, opts Options) *Manager {
	m := &Manager{}
	m.ports = newPorts("TCP", bind, opts, m.listen)
	return m
}

type tcpListener struct {
	ln    *proxyproto.Listener
	svc   atomic.Pointer[Service]
	label string
}

func (m *Manager) listen(addr, label string, s *Service) (*tcpListener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	l := &tcpListener{ln: proxyproto.NewListener(ln), label: label}
	l.retarget(s)
	go m.serve(l)
	return l, nil
}

func (l *tcpListener) retarget(s *Service) {
	l.ln.Set(proxyproto.Settings{Enabled: s.DecodeProxy})
	l.svc.Store(s)
}

func (l *tcpListener) address() net.Addr { return l.ln.Addr() }
func (l *tcpListener) drain()            { l.ln.Close() }
func (l *tcpListener) close()            { l.ln.Close() }

func (m *Manager) serve(l *tcpListener) {
	defer func() {
		if r := recover(); r != nil {
			m.opts.Log.Error("TCP service listener panicked", zap.String("listener", l.label), zap.Any("panic", r))
		}
	}()
	var retry backoff
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			retry.wait(m.opts.Log, l.label, err)
			continue
		}
		retry = 0
		go m.handle(c, l.svc.Load(), l.label)
	}
}

func (m *Manager) handle(c net.Conn, s *Service, label string) {
	defer func() {
		if r := recover(); r != nil {
			m.opts.Log.Error("TCP service connection panicked", zap.Any("panic", r))
			c.Close()
		}
	}()
	if !m.open.add(c, label) {
		c.Close() // accepted as the drain ended
		return
	}
	defer m.open.remove(c)
	if pc, ok := c.(*proxyproto.Conn); ok {
		// Read the header now, under its timeout: a client that sends a bad
		// one is refused before an endpoint is dialled.
		if _, err := pc.Read(nil); err != nil {
			m.opts.Metrics.count(label, resultRefused)
			c.Close()
			return
		}
	}
	var first func(net.Conn) []byte
	if s.EncodeProxy {
		first = func(up net.Conn) []byte { return proxyHeaderV1(c.RemoteAddr(), c.LocalAddr()) }
	}
	proxyTo(c, nil, &s.Target, first, label, m.opts)
}

// proxyHeaderV1 is a PROXY protocol v1 line naming the client (src) and the
// address it connected to (dst); "PROXY UNKNOWN" when either is not an IP
// address of the same family.
func proxyHeaderV1(src, dst net.Addr) []byte {
	s, ok1 := addrPort(src)
	d, ok2 := addrPort(dst)
	if !ok1 || !ok2 || s.Addr().Is4() != d.Addr().Is4() {
		return []byte("PROXY UNKNOWN\r\n")
	}
	fam := "TCP6"
	if s.Addr().Is4() {
		fam = "TCP4"
	}
	return fmt.Appendf(nil, "PROXY %s %s %s %d %d\r\n", fam, s.Addr(), d.Addr(), s.Port(), d.Port())
}

func addrPort(a net.Addr) (netip.AddrPort, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	ap := ta.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ap.IsValid()
}
