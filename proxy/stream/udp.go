package stream

import (
	"errors"
	"net"
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
// --udp-services-configmap), with Manager's Apply, Addr, Close and
// Shutdown. Each client address gets a session: its own socket to one
// endpoint of the service, closed after the first reply datagram or
// IdleTimeout. Services never use the PROXY protocol.
type UDPManager struct {
	*ports[*udpListener]
}

// NewUDPManager returns a UDPManager that listens on bind(port).
func NewUDPManager(bind func(port int) string, opts Options) *UDPManager {
	m := &UDPManager{}
	m.ports = newPorts("UDP", bind, opts, m.listen)
	return m
}

type udpListener struct {
	pc       net.PacketConn
	svc      atomic.Pointer[Service]
	label    string
	opts     Options
	open     *tracker
	draining atomic.Bool // new clients are dropped; sessions go on

	mu       sync.Mutex
	sessions map[string]net.Conn // by client address
}

func (m *UDPManager) listen(addr, label string, s *Service) (*udpListener, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	l := &udpListener{pc: pc, label: label, opts: m.opts, open: &m.open, sessions: map[string]net.Conn{}}
	l.retarget(s)
	go l.serve()
	return l, nil
}

func (l *udpListener) retarget(s *Service) { l.svc.Store(s) }
func (l *udpListener) address() net.Addr   { return l.pc.LocalAddr() }

// drain keeps the socket, which carries the open sessions' replies, but
// opens no new session.
func (l *udpListener) drain() { l.draining.Store(true) }

// close ends the socket; sessions end as their reply cannot be sent.
func (l *udpListener) close() { l.pc.Close() }

// serve reads client datagrams and sends each on its client's session.
func (l *udpListener) serve() {
	defer func() {
		if r := recover(); r != nil {
			l.opts.Log.Error("UDP service socket panicked", zap.String("listener", l.label), zap.Any("panic", r))
		}
	}()
	buf := make([]byte, maxDatagram)
	var retry backoff
	for {
		n, client, err := l.pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			retry.wait(l.opts.Log, l.label, err)
			continue
		}
		retry = 0
		if up := l.session(client); up != nil {
			_, _ = up.Write(buf[:n]) // UDP: a lost datagram is the client's to resend
		}
	}
}

// session returns client's session, opening one (and its reply loop) for
// a new client; nil when the datagram is dropped (no endpoint, too many
// sessions, or a new client while the port drains).
func (l *udpListener) session(client net.Addr) net.Conn {
	key := client.String()
	l.mu.Lock()
	defer l.mu.Unlock()
	if up, ok := l.sessions[key]; ok {
		return up
	}
	m := l.opts.Metrics
	if len(l.sessions) >= maxUDPSessions || l.draining.Load() {
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
	if !l.open.add(up, l.label) {
		up.Close() // the drain just ended
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
		l.open.remove(up)
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
