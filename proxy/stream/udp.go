package stream

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

const (
	// udpResponses ends a UDP session after this many reply datagrams
	// (ingress-nginx's proxy-stream-responses, 1: one request, one answer,
	// as DNS does); the client's next datagram opens a new session.
	udpResponses = 1
	// maxUDPSessions bounds the sessions of one port: a datagram from a new
	// client beyond it is dropped (result "refused").
	maxUDPSessions = 10000
	maxDatagram    = 64 << 10
)

// UDPManager runs one UDP socket per UDP service port (ingress-nginx's
// --udp-services-configmap). Each client address gets a session: its own
// socket to one endpoint of the service, closed after the first reply
// datagram or IdleTimeout. Services never use the PROXY protocol.
type UDPManager struct {
	bind func(port int) string
	opts Options

	mu    sync.Mutex
	ports map[int]*udpListener
}

// NewUDPManager returns a UDPManager that listens on bind(port).
func NewUDPManager(bind func(port int) string, opts Options) *UDPManager {
	return &UDPManager{bind: bind, opts: opts.withDefaults(), ports: map[int]*udpListener{}}
}

type udpListener struct {
	pc    net.PacketConn
	svc   atomic.Pointer[Service]
	label string
	opts  Options

	mu       sync.Mutex
	sessions map[string]net.Conn // by client address
}

// Apply makes the sockets match svcs, as Manager.Apply does for TCP.
func (m *UDPManager) Apply(svcs []Service) []error {
	m.mu.Lock()
	defer m.mu.Unlock()
	want := make(map[int]bool, len(svcs))
	var errs []error
	for i := range svcs {
		s := svcs[i]
		want[s.Port] = true
		if l, ok := m.ports[s.Port]; ok {
			l.svc.Store(&s)
			continue
		}
		pc, err := net.ListenPacket("udp", m.bind(s.Port))
		if err != nil {
			errs = append(errs, fmt.Errorf("UDP service port %d: %w", s.Port, err))
			continue
		}
		l := &udpListener{pc: pc, label: "udp/" + strconv.Itoa(s.Port), opts: m.opts, sessions: map[string]net.Conn{}}
		l.svc.Store(&s)
		m.ports[s.Port] = l
		go l.serve()
	}
	for port, l := range m.ports {
		if !want[port] {
			l.pc.Close()
			delete(m.ports, port)
		}
	}
	return errs
}

// Close closes every socket; sessions end with their idle timeout.
func (m *UDPManager) Close() { m.Apply(nil) }

// Addr is the address a port's socket is bound to (nil when none).
func (m *UDPManager) Addr(port int) net.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.ports[port]; ok {
		return l.pc.LocalAddr()
	}
	return nil
}

// serve reads client datagrams and sends each on its client's session.
func (l *udpListener) serve() {
	defer func() {
		if r := recover(); r != nil {
			l.opts.Log.Error("UDP service socket panicked", zap.String("listener", l.label), zap.Any("panic", r))
		}
	}()
	buf := make([]byte, maxDatagram)
	var backoff time.Duration
	for {
		n, client, err := l.pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.opts.Log.Warn("UDP service: reading", zap.String("listener", l.label), zap.Error(err))
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if up := l.session(client); up != nil {
			_, _ = up.Write(buf[:n]) // UDP: a lost datagram is the client's to resend
		}
	}
}

// session returns client's session, opening one (and its reply loop) for
// a new client; nil when the datagram is dropped.
func (l *udpListener) session(client net.Addr) net.Conn {
	key := client.String()
	l.mu.Lock()
	defer l.mu.Unlock()
	if up, ok := l.sessions[key]; ok {
		return up
	}
	m := l.opts.Metrics
	if len(l.sessions) >= maxUDPSessions {
		m.count(l.label, resultRefused)
		return nil
	}
	t := &l.svc.Load().Target
	var up net.Conn
	for _, a := range t.order() {
		var err error
		if up, err = net.Dial("udp", a); err == nil {
			break
		}
	}
	if up == nil {
		m.count(l.label, resultUnavailable)
		return nil
	}
	m.count(l.label, resultProxied)
	l.sessions[key] = up
	go l.replies(up, client, key)
	return up
}

// replies sends the endpoint's datagrams back to the client until
// udpResponses were sent or the session idled out, then ends the session.
func (l *udpListener) replies(up net.Conn, client net.Addr, key string) {
	done := l.opts.Metrics.open(l.label)
	defer func() {
		done()
		l.mu.Lock()
		delete(l.sessions, key)
		l.mu.Unlock()
		up.Close()
	}()
	buf := make([]byte, maxDatagram)
	for sent := 0; sent < udpResponses; sent++ {
		_ = up.SetReadDeadline(time.Now().Add(l.opts.IdleTimeout))
		n, err := up.Read(buf)
		if err != nil {
			return // idle, or the endpoint refused (ICMP)
		}
		if _, err := l.pc.WriteTo(buf[:n], client); err != nil {
			return
		}
	}
}
