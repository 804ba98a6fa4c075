package main

import (
	"context"
	"net"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"weir.dev/weir/controller/translate"
	"weir.dev/weir/proxy/stream"
)

// streams are the connection-level parts of the data plane: TLS
// passthrough on the HTTPS port (--enable-ssl-passthrough) and the TCP
// and UDP services (--tcp-services-configmap, --udp-services-configmap).
// Each is nil when off.
type streams struct {
	passthrough *stream.Listener
	tcp         *stream.Manager
	udp         *stream.UDPManager
	opts        stream.Options
	bindErrs    map[string]bool // the bind errors last logged
}

// newStreams prepares the metrics and the TCP service manager for cfg.
func newStreams(cfg *config, reg prometheus.Registerer, log *zap.Logger) *streams {
	s := &streams{}
	if !cfg.enableSSLPassthrough && cfg.tcpServices == "" && cfg.udpServices == "" {
		return s
	}
	s.opts = stream.Options{Metrics: stream.NewMetrics(reg), Log: log}
	if cfg.tcpServices != "" {
		s.tcp = stream.NewManager(cfg.addr, s.opts)
	}
	if cfg.udpServices != "" {
		s.udp = stream.NewUDPManager(cfg.addr, s.opts)
	}
	return s
}

// wrapTLS puts the passthrough listener in front of the HTTPS server's
// listener when --enable-ssl-passthrough is on.
func (s *streams) wrapTLS(cfg *config, ln net.Listener) net.Listener {
	if !cfg.enableSSLPassthrough {
		return ln
	}
	s.passthrough = stream.NewListener(ln, s.opts)
	return s.passthrough
}

// publish hands a translation's passthrough hosts (with the endpoints of
// its table, which an endpoint-only refresh replaces) and TCP services to
// the listeners.
func (s *streams) publish(res *translate.Result) {
	if s == nil {
		return
	}
	if s.passthrough != nil {
		hosts := make(map[string]*stream.Target, len(res.Passthrough))
		for h, b := range res.Passthrough {
			eps := res.Table.Endpoints(b)
			t := &stream.Target{Name: b.Name, Addrs: make([]string, 0, len(eps))}
			for _, e := range eps {
				t.Addrs = append(t.Addrs, e.Address)
			}
			hosts[h] = t
		}
		for _, h := range res.PassthroughTerminated {
			hosts[h] = nil // Lookup finds the exact host: not passed through
		}
		s.passthrough.SetRoutes(stream.NewRoutes(hosts))
	}
	if res.EndpointsOnly != nil {
		return // Refresh declines when a TCP or UDP service's endpoints change
	}
	var errs []error
	if s.tcp != nil {
		errs = append(errs, s.tcp.Apply(res.TCPServices)...)
	}
	if s.udp != nil {
		errs = append(errs, s.udp.Apply(res.UDPServices)...)
	}
	s.logBindErrors(errs)
}

// logBindErrors logs each port that cannot be bound once (until it binds
// or changes); it is retried with the next translation.
func (s *streams) logBindErrors(bindErrs []error) {
	errs := map[string]bool{}
	for _, err := range bindErrs {
		errs[err.Error()] = true
		if !s.bindErrs[err.Error()] {
			s.opts.Log.Error("TCP or UDP service not served", zap.Error(err))
		}
	}
	s.bindErrs = errs
}

// shutdown drains with the HTTP listeners: the passthrough listener, the
// TCP service ports and the UDP service sockets stop taking clients now;
// their open connections and sessions run until they end or ctx does, and
// are then closed (each logged and counted as result "cut").
func (s *streams) shutdown(ctx context.Context) {
	if s == nil {
		return
	}
	var drains []func(context.Context) int
	if s.passthrough != nil {
		drains = append(drains, s.passthrough.Shutdown)
	}
	if s.tcp != nil {
		drains = append(drains, s.tcp.Shutdown)
	}
	if s.udp != nil {
		drains = append(drains, s.udp.Shutdown)
	}
	var wg sync.WaitGroup
	for _, d := range drains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d(ctx)
		}()
	}
	wg.Wait()
}

func (s *streams) close() {
	if s != nil && s.tcp != nil {
		s.tcp.Close()
	}
	if s != nil && s.udp != nil {
		s.udp.Close()
	}
}
