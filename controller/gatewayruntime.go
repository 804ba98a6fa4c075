package controller

import (
	"context"
	"sort"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewaylisters "sigs.k8s.io/gateway-api/pkg/client/listers/apis/v1"

	"weir.dev/weir/controller/gatewayservice"
	"weir.dev/weir/controller/gatewaystatus"
	"weir.dev/weir/controller/translate"
)

// ServiceOptions configure the Gateway Services (controller/gatewayservice).
type ServiceOptions = gatewayservice.Options

// GatewaySocket is one Gateway listener port to serve and the port to bind
// for it: the container port its Service records in a cluster, else the
// listener's own port.
type GatewaySocket struct {
	Listener *translate.GatewayListener
	// EndpointsOnly is translate.Result.ListenerEndpointsOnly's entry.
	EndpointsOnly []int
	Port          int32
}

// ListenerPublisher is a Publisher that also serves Gateway listeners.
// PublishListeners is called after every Publish, and again when a
// listener's container port becomes known; it gets every socket to serve.
type ListenerPublisher interface {
	PublishListeners(sockets []GatewaySocket)
}

func (c *Controller) setupGateway(opts Options) error {
	g := opts.Gateway
	if g == nil {
		return nil
	}
	c.gw = newGatewaySide(c, *g)
	if g.Services != nil {
		m, err := gatewayservice.New(c.client, *g.Services, c.servicesChanged, c.log)
		if err != nil {
			return err
		}
		c.services = m
	}
	name := opts.Translate.GatewayControllerName
	if name == "" {
		name = translate.DefaultGatewayControllerName
	}
	c.gwStatus = gatewaystatus.New(g.Client, name, c.log)
	return nil
}

// servicesChanged: a Gateway Service changed (a container port allocated,
// an address assigned): serve the new sockets and let the leader publish
// the address.
func (c *Controller) servicesChanged() {
	c.publishListeners()
	if c.status != nil {
		c.status.Poke()
	}
}

// publishListeners hands the listeners of the newest result to the
// publisher, each with the port to bind. In a cluster a listener waits for
// its container port until the leader has recorded one in the Service.
func (c *Controller) publishListeners() {
	lp, ok := c.pub.(ListenerPublisher)
	res := c.Last()
	if !ok || res == nil {
		return
	}
	c.sockets.Lock()
	defer c.sockets.Unlock()
	out := make([]GatewaySocket, 0, len(res.GatewayListeners))
	for i, l := range res.GatewayListeners {
		port := l.Port
		if c.services != nil {
			p, ok := c.services.ContainerPort(l.Gateway.Namespace, l.Gateway.Name, l.Port)
			if !ok {
				continue
			}
			port = p
		}
		var eo []int
		if i < len(res.ListenerEndpointsOnly) {
			eo = res.ListenerEndpointsOnly[i]
		}
		out = append(out, GatewaySocket{Listener: l, EndpointsOnly: eo, Port: port})
	}
	lp.PublishListeners(out)
}

// leadGateways is the leader's Gateway work after each status pass: keep
// the Gateway Services, then write the Gateway API status.
func (c *Controller) leadGateways(ctx context.Context) {
	res := c.Last()
	if res == nil || !c.gw.ready() {
		return // nothing is known about Gateways yet: change nothing
	}
	f := c.gw.lister()
	if f == nil {
		return
	}
	v1 := f.Gateway().V1()
	l := gatewaystatus.Listers{GatewayClasses: v1.GatewayClasses().Lister(), Gateways: v1.Gateways().Lister()}
	if c.gw.watches("httproutes") {
		l.HTTPRoutes = v1.HTTPRoutes().Lister()
	}
	if c.gw.watches("grpcroutes") {
		l.GRPCRoutes = v1.GRPCRoutes().Lister()
	}
	if c.gw.watches("backendtlspolicies") {
		l.BackendTLSPolicies = v1.BackendTLSPolicies().Lister()
	}
	if c.gw.watches("listenersets") {
		l.ListenerSets = v1.ListenerSets().Lister()
	}
	var addrs gatewaystatus.Addresses
	if c.services != nil {
		var wants []gatewayservice.Want
		for _, gs := range res.Gateways {
			gw, err := l.Gateways.Gateways(gs.Namespace).Get(gs.Name)
			if err != nil {
				continue
			}
			if ports := listenerPorts(gw, setListeners(l.ListenerSets, gw)); len(ports) > 0 {
				wants = append(wants, gatewayservice.Want{Gateway: gw, Ports: ports})
			}
		}
		_ = c.services.Sync(ctx, wants) // logged there; retried on the next pass
		addrs = c.services.Addresses
	} else {
		addrs = c.sharedAddresses(ctx)
	}
	_ = c.gwStatus.Sync(ctx, res, l, addrs)
}

// sharedAddresses gives every Gateway Weir's own published addresses, when
// Gateways get no Service of their own (--gateway-load-balancers=false:
// Weir on the host network, each listener on its own port).
func (c *Controller) sharedAddresses(ctx context.Context) gatewaystatus.Addresses {
	published, err := c.status.Addresses(ctx)
	if err != nil {
		c.log.Warn("cannot read the addresses to publish for Gateways", zap.Error(err))
		return nil
	}
	ip, hostname := gatewayv1.IPAddressType, gatewayv1.HostnameAddressType
	var out []gatewayv1.GatewayStatusAddress
	for _, a := range published {
		if a.IP != "" {
			out = append(out, gatewayv1.GatewayStatusAddress{Type: &ip, Value: a.IP})
		} else if a.Hostname != "" {
			out = append(out, gatewayv1.GatewayStatusAddress{Type: &hostname, Value: a.Hostname})
		}
	}
	return func(gw *gatewayv1.Gateway) ([]gatewayv1.GatewayStatusAddress, string) {
		if len(gw.Spec.Addresses) > 0 {
			return out, "Weir without per-Gateway load balancers serves every Gateway at its own published addresses"
		}
		return out, ""
	}
}

// listenerPorts are the distinct ports of a Gateway's HTTP and HTTPS
// listeners. The Service follows the spec, not which listeners are valid
// right now, so that a listener that is briefly invalid (a Secret not there
// yet) does not cost the Gateway its load-balancer address.
func listenerPorts(gw *gatewayv1.Gateway, more []gatewayv1.Listener) []gatewayservice.Port {
	seen := make(map[int32]bool)
	var out []gatewayservice.Port
	for _, l := range append(append([]gatewayv1.Listener(nil), gw.Spec.Listeners...), more...) {
		if (l.Protocol != gatewayv1.HTTPProtocolType && l.Protocol != gatewayv1.HTTPSProtocolType) || seen[l.Port] {
			continue
		}
		seen[l.Port] = true
		out = append(out, gatewayservice.Port{Port: l.Port, Protocol: string(l.Protocol)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Port < out[j].Port })
	return out
}

// setListeners are the listeners of the ListenerSets whose parent is gw
// (their ports are the Gateway's Service's ports too).
func setListeners(sets gatewaylisters.ListenerSetLister, gw *gatewayv1.Gateway) []gatewayv1.Listener {
	if sets == nil {
		return nil
	}
	list, err := sets.List(labels.Everything())
	if err != nil {
		return nil
	}
	var out []gatewayv1.Listener
	for _, ls := range list {
		pr := ls.Spec.ParentRef
		ns := ls.Namespace
		if pr.Namespace != nil {
			ns = string(*pr.Namespace)
		}
		if ns != gw.Namespace || string(pr.Name) != gw.Name || (pr.Kind != nil && *pr.Kind != "Gateway") {
			continue
		}
		for _, e := range ls.Spec.Listeners {
			out = append(out, gatewayv1.Listener{Name: e.Name, Port: e.Port, Protocol: e.Protocol})
		}
	}
	return out
}
