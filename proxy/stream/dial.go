package stream

import (
	"context"
	"net"
	"time"

	"go.uber.org/zap"
)

// proxyTo connects c to one of t's endpoints, writes first (a PROXY
// protocol header) and head (bytes already read from c) to it, and splices
// the two until they end. label names the listener in metrics.
func proxyTo(c net.Conn, head []byte, t *Target, first func(up net.Conn) []byte, label string, o Options) {
	m := o.Metrics
	up := dial(t, o)
	if up == nil {
		m.count(label, resultUnavailable)
		o.Log.Warn("stream: no endpoint of the backend accepted a connection", zap.String("listener", label),
			zap.String("service", t.Name), zap.Int("endpoints", len(t.Addrs)), zap.Stringer("client", c.RemoteAddr()))
		c.Close()
		return
	}
	var pre []byte
	if first != nil {
		pre = first(up)
	}
	_ = up.SetWriteDeadline(time.Now().Add(o.DialTimeout))
	if _, err := up.Write(append(pre, head...)); err != nil {
		m.count(label, resultUnavailable)
		c.Close()
		up.Close()
		return
	}
	m.count(label, resultProxied)
	done := m.open(label)
	defer done()
	Splice(c, up, o.IdleTimeout)
}

// dial tries t's endpoints in turn; nil when none accepts.
func dial(t *Target, o Options) net.Conn {
	d := net.Dialer{Timeout: o.DialTimeout}
	for _, a := range t.order() {
		up, err := d.DialContext(context.Background(), "tcp", a)
		if err == nil {
			return up
		}
		o.Log.Debug("stream: connecting to an endpoint", zap.String("service", t.Name), zap.String("endpoint", a), zap.Error(err))
	}
	return nil
}
