package main

import (
	"fmt"
	"net"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/labels"

	"weir.dev/weir/controller"
	"weir.dev/weir/controller/globalconfig"
	"weir.dev/weir/controller/translate"
	"weir.dev/weir/proxy"
	"weir.dev/weir/proxy/proxyproto"
	weirtls "weir.dev/weir/tls"
)

// controllerOptions are the controller's options from the flags.
func controllerOptions(cfg *config) (controller.Options, error) {
	opts := controller.Options{
		Translate: translate.Options{IngressClass: cfg.ingressClass, ControllerClass: cfg.controllerClass,
			DefaultBackendService: cfg.defaultBackendService, DefaultSSLCertificate: cfg.defaultSSLCertificate,
			GatewayControllerName: cfg.gateway.controllerName, WatchWithoutClass: cfg.watchWithoutClass,
			ClassByName: cfg.classByName, DisableExternalName: cfg.disableSvcExternalName,
			SSLPassthrough: cfg.enableSSLPassthrough, ReservedPorts: []int{cfg.httpPort, cfg.httpsPort, cfg.metricsPort}},
		TCPServices:       cfg.tcpServices,
		UDPServices:       cfg.udpServices,
		WatchNamespace:    cfg.watchNamespace,
		Events:            true,
		ConfigMap:         cfg.configMap,
		AnnotationsPrefix: cfg.annotationsPrefix,
	}
	if cfg.watchNamespaceSelector != "" {
		sel, err := labels.Parse(cfg.watchNamespaceSelector)
		if err != nil {
			return opts, fmt.Errorf("--watch-namespace-selector: %w", err)
		}
		opts.NamespaceSelector = sel
	}
	return opts, nil
}

// startConfig is the global ConfigMap's configuration at start, or the
// defaults without --configmap.
func startConfig(c *controller.Controller) *globalconfig.Config {
	if g := c.StartConfig(); g != nil {
		return g
	}
	return globalconfig.Defaults()
}

// startValues are the listener and upstream settings: the flags,
// overridden by the keys g sets.
func (c *config) startValues(g *globalconfig.Config) globalconfig.Start {
	s := globalconfig.Start{KeepAlive: c.idleTimeout, ClientHeaderTimeout: c.readHeaderTimeout,
		ClientBodyTimeout: c.clientBodyTimeout, MaxHeaderBytes: c.maxHeaderBytes, HTTP2: true, SessionTickets: true}
	if g != nil {
		g.ApplyStart(&s)
	}
	return s
}

// applyStart lets the ConfigMap's listener and upstream keys
// (globalconfig.ScopeStart and ScopeListener) override the flags they share
// a meaning with.
func (c *config) applyStart(g *globalconfig.Config) error {
	s := c.startValues(g)
	c.idleTimeout, c.readHeaderTimeout, c.clientBodyTimeout, c.maxHeaderBytes = s.KeepAlive, s.ClientHeaderTimeout, s.ClientBodyTimeout, s.MaxHeaderBytes
	c.keepAliveOff = s.KeepAlive == 0
	c.upstreamIdle, c.upstreamIdleTimeout, c.upstreamRequests = s.UpstreamKeepaliveConns, s.UpstreamKeepaliveTimeout, s.UpstreamKeepaliveRequests
	c.tls = weirtls.Options{MinVersion: s.MinTLSVersion, MaxVersion: s.MaxTLSVersion, DisableHTTP2: !s.HTTP2,
		DisableSessionTickets: !s.SessionTickets}
	c.maxStreams = s.HTTP2MaxConcurrentStreams
	if s.CipherSuites != "" {
		suites, _, err := weirtls.ParseCiphers(s.CipherSuites)
		if err != nil {
			return fmt.Errorf("ssl-ciphers: %w", err) // checked by the Tracker: not reached
		}
		c.tls.CipherSuites = suites
	}
	return nil
}

// PublishGlobal puts a new global configuration in force: the proxy-wide
// settings at once, PROXY protocol and the listener keys for connections
// accepted from now on (controller.GlobalPublisher).
//
// The compression and custom-error keys (g.Compression, g.Errors) are parsed
// and validated by controller/globalconfig; the proxy features that serve
// them take them here.
func (p *publisher) PublishGlobal(g *globalconfig.Config) {
	p.global = g
	pg := proxyGlobal(g)
	pg.ClientBodyTimeout = p.flags.startValues(g).ClientBodyTimeout
	p.proxy.SetGlobal(pg)
	if p.front != nil {
		p.front.apply(g)
	}
	pp := proxyproto.Settings{Enabled: g.ProxyProtocol, Timeout: g.ProxyProtocolTimeout}
	for _, l := range p.proxied {
		l.Set(pp)
	}
	p.proxyProtocol = pp
}

func proxyGlobal(g *globalconfig.Config) *proxy.Global {
	out := &proxy.Global{Trusted: g.Forwarded.Trusted, ForwardedFor: g.Forwarded.Header, ComputeFull: g.Forwarded.ComputeFull,
		BlockCIDRs: g.Block.CIDRs, LimitReqStatus: g.LimitReqStatus, LimitConnStatus: g.LimitConnStatus}
	for _, m := range g.Block.UserAgents {
		out.BlockUserAgents = append(out.BlockUserAgents, m)
	}
	for _, m := range g.Block.Referers {
		out.BlockReferers = append(out.BlockReferers, m)
	}
	return out
}

// proxyProtocolListener wraps one of the HTTP or HTTPS listeners so that
// use-proxy-protocol applies to it, starting with the settings in force.
func (p *publisher) proxyProtocolListener(l *proxyproto.Listener) *proxyproto.Listener {
	l.Set(p.proxyProtocol)
	l.OnError = func(remote net.Addr, err error) {
		p.log.Debug("PROXY protocol header refused; connection closed", zap.Stringer("remote", remote), zap.Error(err))
	}
	p.proxied = append(p.proxied, l)
	return l
}
