package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"weir.dev/weir/controller"
	"weir.dev/weir/controller/translate"
	"weir.dev/weir/proxy"
	"weir.dev/weir/proxy/listeners"
	weirtls "weir.dev/weir/tls"
)

// gatewayFlags are the Gateway API flags.
type gatewayFlags struct {
	enabled        bool
	controllerName string
	loadBalancers  bool
	namespace      string
	podSelector    string
	portRange      string
}

func (g *gatewayFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&g.enabled, "enable-gateway-api", true, "serve the Gateway API (GatewayClass, Gateway, HTTPRoute, GRPCRoute, ReferenceGrant) once its CRDs are installed")
	fs.StringVar(&g.controllerName, "gateway-controller-name", translate.DefaultGatewayControllerName, "GatewayClass spec.controllerName that Weir serves")
	fs.BoolVar(&g.loadBalancers, "gateway-load-balancers", true, "in a cluster, give each Gateway a LoadBalancer Service and bind each listener to a container port recorded there; false binds each listener's own port (host network)")
	fs.StringVar(&g.namespace, "gateway-service-namespace", "", "namespace of the Gateways' LoadBalancer Services, where Weir's Pods run (default: $POD_NAMESPACE)")
	fs.StringVar(&g.podSelector, "gateway-pod-selector", "app.kubernetes.io/name=weir", "labels of Weir's Pods: the selector of the Gateways' Services")
	fs.StringVar(&g.portRange, "gateway-port-range", "20000-29999", "container ports allocated to Gateway listeners")
}

// online returns the Gateway side's options for a cluster (nil when off).
func (g *gatewayFlags) online(rc *rest.Config, client kubernetes.Interface) (*controller.GatewayOptions, error) {
	if !g.enabled {
		return nil, nil
	}
	gc, err := gatewayclient.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("creating the Gateway API client: %w", err)
	}
	opts := &controller.GatewayOptions{Client: gc, Discovery: client.Discovery()}
	if !g.loadBalancers {
		return opts, nil
	}
	sel, err := labels.ConvertSelectorToLabelsMap(g.podSelector)
	if err != nil {
		return nil, fmt.Errorf("--gateway-pod-selector: %w", err)
	}
	lo, hi, err := parsePortRange(g.portRange)
	if err != nil {
		return nil, err
	}
	opts.Services = &controller.ServiceOptions{Namespace: g.namespace, PodSelector: sel, PortMin: lo, PortMax: hi}
	return opts, nil
}

// offline returns the Gateway side's options for --manifests: the objects
// come from the files, each listener binds its own port.
func (g *gatewayFlags) offline() *controller.GatewayOptions {
	if !g.enabled {
		return nil
	}
	return &controller.GatewayOptions{}
}

func parsePortRange(s string) (int32, int32, error) {
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
	hi, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 16)
	if !ok || err1 != nil || err2 != nil || lo == 0 || hi < lo {
		return 0, 0, fmt.Errorf("--gateway-port-range %q: want LOW-HIGH, two ports with LOW <= HIGH", s)
	}
	return int32(lo), int32(hi), nil
}

// newGatewayListeners prepares the Gateway listener sockets: the same proxy
// options, server limits and endpoint registry as the Ingress listeners.
func newGatewayListeners(ctx context.Context, cfg *config, pub *publisher, trusted []netip.Prefix, log *zap.Logger) (*listeners.Manager, error) {
	keys, err := weirtls.NewTicketKeys(0)
	if err != nil {
		return nil, err
	}
	go keys.Run(ctx, func(err error) { log.Warn("rotating session ticket keys", zap.Error(err)) })
	popts, err := proxyOptions(cfg, trusted)
	if err != nil {
		return nil, err
	}
	return listeners.New(listeners.Options{
		Proxy:       popts,
		Server:      serverOptions(&pub.flags), // the ConfigMap is the Ingress listeners' (docs/configmap.md)
		TLS:         weirtls.Options{TicketKeys: keys},
		Registry:    pub.endpoints,
		Metrics:     pub.metrics,
		Log:         log,
		DrainPeriod: cfg.drainPeriod,
	}), nil
}

// proxyOptions are the proxy.Options of every listener.
func proxyOptions(cfg *config, trusted []netip.Prefix) (proxy.Options, error) {
	up, err := weirtls.UpstreamConfig(weirtls.UpstreamOptions{})
	if err != nil {
		return proxy.Options{}, err
	}
	return proxy.Options{TrustedProxies: trusted, AccessLog: cfg.accessLog, UpstreamTLS: up,
		ClientBodyTimeout: cfg.clientBodyTimeout, EnableUnderscoresInHeaders: cfg.underscoresInHeaders}, nil
}

// serverOptions are the http.Server limits of every listener.
func serverOptions(cfg *config) proxy.ServerOptions {
	return proxy.ServerOptions{ReadHeaderTimeout: cfg.readHeaderTimeout, IdleTimeout: cfg.idleTimeout,
		MaxHeaderBytes: cfg.maxHeaderBytes, CleartextHTTP2: cfg.cleartextHTTP2, MaxConcurrentStreams: cfg.maxStreams,
		HTTP1: cfg.http1Server}
}

// PublishListeners serves the Gateway listeners (controller.ListenerPublisher).
func (p *publisher) PublishListeners(sockets []controller.GatewaySocket) {
	if p.listeners == nil {
		return
	}
	specs := make([]listeners.Spec, 0, len(sockets))
	for _, s := range sockets {
		l := s.Listener
		specs = append(specs, listeners.Spec{
			Key:                fmt.Sprintf("gateway %s/%s port %d", l.Gateway.Namespace, l.Gateway.Name, l.Port),
			Addr:               p.addr(int(s.Port)),
			TLS:                l.Protocol == gatewayv1.HTTPSProtocolType,
			Table:              l.Table,
			EndpointsOnly:      s.EndpointsOnly,
			Certificates:       l.Certificates,
			DefaultCertificate: l.DefaultCertificate,
			ClientCAs:          l.ClientCAs,
			ClientCertOptional: l.ClientCertOptional,
		})
	}
	p.listeners.Apply(specs) // failures are logged there and retried on the next publish
}

// drainListeners drains the Gateway listeners alongside the Ingress ones:
// keep-alive off now, stop accepting after --shutdown-delay, requests get
// --drain-period.
func (p *publisher) drainListeners(cfg *config) <-chan struct{} {
	done := make(chan struct{})
	if p.listeners == nil {
		close(done)
		return done
	}
	p.listeners.Drain()
	go func() {
		defer close(done)
		time.Sleep(cfg.shutdownDelay)
		ctx, cancel := context.WithTimeout(context.Background(), cfg.drainPeriod)
		defer cancel()
		_ = p.listeners.Shutdown(ctx)
	}()
	return done
}
