package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"

	"go.uber.org/zap"

	"weir.dev/weir/controller/globalconfig"
	"weir.dev/weir/proxy"
	"weir.dev/weir/proxy/proxyproto"
	weirtls "weir.dev/weir/tls"
)

// frontServers are the --http-port and --https-port servers. Their options
// come from the flags, overridden by the global ConfigMap's listener keys
// (globalconfig.ScopeListener); when those change, apply replaces the
// servers on the same sockets: new connections get the new options, open
// ones finish with theirs (proxy.Reloadable).
type frontServers struct {
	flags   config // the flags, before any ConfigMap value
	pub     *publisher
	log     *zap.Logger
	keys    *weirtls.TicketKeys
	plain   *proxy.Reloadable
	secure  *proxy.Reloadable
	applied globalconfig.Start // the values the current servers have
}

// startServers serves the proxy in clear text on plain and over TLS on
// secure (either may be nil), both reading PROXY protocol headers when the
// global ConfigMap says so. flags are the flag values before the
// ConfigMap's; cfg is what Weir starts with.
func startServers(ctx context.Context, flags, cfg *config, pub *publisher, log *zap.Logger, plain, secure net.Listener) ([]*proxy.Reloadable, error) {
	f := &frontServers{flags: *flags, pub: pub, log: log, applied: flags.startValues(pub.global)}
	var out []*proxy.Reloadable
	if secure != nil {
		keys, err := weirtls.NewTicketKeys(0)
		if err != nil {
			return nil, err
		}
		go keys.Run(ctx, func(err error) { log.Warn("rotating session ticket keys", zap.Error(err)) })
		f.keys = keys
	}
	if plain != nil {
		ln := pub.proxyProtocolListener(proxyproto.NewListener(plain))
		f.plain = proxy.NewReloadable(ln, f.server(cfg, plain.Addr().String(), false), proxy.ReloadOptions{Drain: cfg.drainPeriod, Log: log})
		out = append(out, f.plain)
	}
	if secure != nil {
		ln := pub.streams.wrapTLS(cfg, pub.proxyProtocolListener(proxyproto.NewListener(secure))) // stream.go
		f.secure = proxy.NewReloadable(ln, f.server(cfg, secure.Addr().String(), true), proxy.ReloadOptions{TLS: true, Drain: cfg.drainPeriod, Log: log})
		out = append(out, f.secure)
	}
	for _, r := range out {
		go func() {
			if err := r.Serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("listener failed", zap.String("addr", r.Addr()), zap.Error(err))
			}
		}()
	}
	pub.front = f
	return out, nil
}

// server makes the HTTP or HTTPS server of cfg's options for addr.
func (f *frontServers) server(cfg *config, addr string, secure bool) *proxy.HTTPServer {
	opts := serverOptions(cfg)
	if secure {
		opts.CleartextHTTP2 = false
		o := cfg.tls
		o.TicketKeys = f.keys
		opts.TLS = weirtls.ServerConfig(f.pub.certs, o)
	}
	srv := proxy.NewHTTPServer(addr, f.pub.proxy, opts, f.log)
	if secure && !slices.Contains(opts.TLS.NextProtos, "h2") {
		srv.Protocols.SetHTTP2(false)
	}
	if cfg.keepAliveOff {
		srv.SetKeepAlivesEnabled(false)
	}
	return srv
}

// apply puts the ConfigMap's listener keys of g in force for the
// connections accepted from now on; nothing happens when they did not
// change.
func (f *frontServers) apply(g *globalconfig.Config) {
	if f.flags.startValues(g) == f.applied {
		return
	}
	cfg := f.flags
	if err := cfg.applyStart(g); err != nil {
		f.log.Error("listener settings from the global ConfigMap; keeping the current ones", zap.Error(err))
		return
	}
	f.applied = f.flags.startValues(g)
	if f.plain != nil {
		f.plain.Replace(f.server(&cfg, f.plain.Addr(), false))
	}
	if f.secure != nil {
		f.secure.Replace(f.server(&cfg, f.secure.Addr(), true))
	}
	f.log.Info("listener settings changed by the global ConfigMap: applied to new connections, open ones keep theirs until they close")
}
