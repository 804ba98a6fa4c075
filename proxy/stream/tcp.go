package stream

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

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

// Manager runs one listener per TCP service port. Apply opens the ports
// that are new, closes the ones that are gone and retargets the rest
// without touching their open connections.
type Manager struct {
	bind func(port int) string // the address to listen on for a port
	opts Options

	mu    sync.Mutex
	ports map[int]*tcpListener
}

// NewManager returns a Manager that listens on bind(port).
func NewManager(bind func(port int) string, opts Options) *Manager {
	return &Manager{bind: bind, opts: opts.withDefaults(), ports: map[int]*tcpListener{}}
}

type tcpListener struct {
	ln  *proxyproto.Listener
	svc atomic.Pointer[Service]
}

// Apply makes the listeners match svcs. It returns one error per port that
// could not be bound (that service is not served; Apply tries again next
// time); every other port is served.
func (m *Manager) Apply(svcs []Service) []error {
	m.mu.Lock()
	defer m.mu.Unlock()
	want := make(map[int]bool, len(svcs))
	var errs []error
	for i := range svcs {
		s := svcs[i]
		want[s.Port] = true
		if l, ok := m.ports[s.Port]; ok {
			l.set(&s)
			continue
		}
		ln, err := net.Listen("tcp", m.bind(s.Port))
		if err != nil {
			errs = append(errs, fmt.Errorf("TCP service port %d: %w", s.Port, err))
			continue
		}
		l := &tcpListener{ln: proxyproto.NewListener(ln)}
		l.set(&s)
		m.ports[s.Port] = l
		go m.serve(l, s.Port)
	}
	for port, l := range m.ports {
		if !want[port] {
			l.ln.Close()
			delete(m.ports, port)
		}
	}
	return errs
}

// Close closes every listener; open connections run on until they end.
func (m *Manager) Close() {
	m.Apply(nil)
}

// Addr is the address a port's listener is bound to (nil when none).
func (m *Manager) Addr(port int) net.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.ports[port]; ok {
		return l.ln.Addr()
	}
	return nil
}

func (l *tcpListener) set(s *Service) {
	l.ln.Set(proxyproto.Settings{Enabled: s.DecodeProxy})
	l.svc.Store(s)
}

func (m *Manager) serve(l *tcpListener, port int) {
	label := "tcp/" + strconv.Itoa(port)
	defer func() {
		if r := recover(); r != nil {
			m.opts.Log.Error("TCP service listener panicked", zap.String("listener", label), zap.Any("panic", r))
		}
	}()
	var backoff time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors, for example: wait a little, longer
			// each time, as net/http's Server does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			m.opts.Log.Warn("TCP service: accepting", zap.String("listener", label), zap.Error(err))
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		go m.handle(c, l.svc.Load(), label)
	}
}

func (m *Manager) handle(c net.Conn, s *Service, label string) {
	defer func() {
		if r := recover(); r != nil {
			m.opts.Log.Error("TCP service connection panicked", zap.Any("panic", r))
			c.Close()
		}
	}()
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
