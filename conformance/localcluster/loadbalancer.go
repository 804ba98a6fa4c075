package localcluster

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// The cluster's LoadBalancer implementation plays MetalLB's L2 mode and
// kube-proxy at once. Every Service of type LoadBalancer without a
// loadBalancerClass gets an address of the cluster's /24 (layout.go), added
// to the bridge as a /32 so that the root network namespace and every Pod
// reach it (the root namespace answers ARP for it, as a MetalLB speaker
// does); the address goes to status.loadBalancer.ingress. Each TCP port of
// the Service is a userspace proxy on address:port (lbproxy.go) to the
// port's endpoints from the EndpointSlices, following their changes.
//
// Why a userspace proxy and not nftables DNAT: it works the same for clients
// in the root namespace and in Pods without ip_forward or br_netfilter
// (hairpin traffic through DNAT would need both, and the cluster leaves
// them alone), needs no nft binary or kernel module, and everything it owns
// goes away with the process and the bridge. What it changes: endpoints see
// the bridge address as the client address.

// Annotation MetalLB reads for requested addresses; honoured here too, as is
// the deprecated spec.loadBalancerIP.
const lbIPsAnnotation = "metallb.io/loadBalancerIPs"

// UnusableLoadBalancerAddress is never handed out: a documentation address
// (RFC 5737) outside every cluster's network. A Service asking for it gets
// an AllocationFailed Event and no address.
var UnusableLoadBalancerAddress = netip.MustParseAddr("192.0.2.254")

// StaticLoadBalancerAddresses are the cluster's addresses that a Service gets
// only by asking for them (spec.loadBalancerIP or the
// metallb.io/loadBalancerIPs annotation), never automatically.
func (c *Cluster) StaticLoadBalancerAddresses() []netip.Addr {
	var out []netip.Addr
	for h := firstStaticLB; h <= lastLBHost; h++ {
		out = append(out, c.l.hostAddr(h))
	}
	return out
}

type loadBalancer struct {
	l        layout
	client   kubernetes.Interface
	logf     Logf
	services listersv1.ServiceLister
	slices   discoverylisters.EndpointSliceLister
	pokes    chan struct{}
	done     chan struct{}

	// Owned by the run goroutine.
	assigned map[string]*lbService // namespace/name
	owner    map[netip.Addr]string
	next     int               // last byte of the next automatic address to try
	told     map[string]string // the last Event per Service, not repeated
}

// lbService is one Service's address and its open ports.
type lbService struct {
	addr      netip.Addr
	listeners map[string]*lbListener // "80"
	published bool
}

func (c *Cluster) startLoadBalancer(ctx context.Context) error {
	lb := &loadBalancer{
		l: c.l, client: c.Client, logf: c.logf,
		pokes: make(chan struct{}, 1), done: make(chan struct{}),
		assigned: map[string]*lbService{}, owner: map[netip.Addr]string{},
		next: firstLBHost, told: map[string]string{},
	}
	factory := informers.NewSharedInformerFactory(c.Client, 0)
	svcInf := factory.Core().V1().Services()
	sliceInf := factory.Discovery().V1().EndpointSlices()
	poke := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { lb.poke() },
		UpdateFunc: func(any, any) { lb.poke() },
		DeleteFunc: func(any) { lb.poke() },
	}
	for _, inf := range []cache.SharedIndexInformer{svcInf.Informer(), sliceInf.Informer()} {
		if _, err := inf.AddEventHandler(poke); err != nil {
			return fmt.Errorf("watching for the load balancer: %w", err)
		}
	}
	lb.services, lb.slices = svcInf.Lister(), sliceInf.Lister()
	runCtx, cancel := context.WithCancel(context.Background())
	factory.Start(runCtx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), svcInf.Informer().HasSynced, sliceInf.Informer().HasSynced) {
		cancel()
		return fmt.Errorf("waiting for the load balancer's caches: %w", ctx.Err())
	}
	c.stopLB = func() {
		cancel()
		<-lb.done
		factory.Shutdown()
	}
	goSafe(c.logf, "loadbalancer", func() { lb.run(runCtx) })
	return nil
}

func (lb *loadBalancer) poke() {
	select {
	case lb.pokes <- struct{}{}:
	default:
	}
}

// run reconciles on every change, and every 2 s to retry failed writes.
func (lb *loadBalancer) run(ctx context.Context) {
	defer close(lb.done)
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		lb.reconcile(ctx)
		select {
		case <-ctx.Done():
			lb.releaseAll()
			return
		case <-lb.pokes:
		case <-t.C:
		}
	}
}

// reconcile brings every LoadBalancer Service's address, ports, endpoints
// and status in step, and releases what Services no longer need.
func (lb *loadBalancer) reconcile(ctx context.Context) {
	svcs, err := lb.services.List(labels.Everything())
	if err != nil {
		return
	}
	want := map[string]*corev1.Service{}
	for _, s := range svcs {
		if isOurLB(s) {
			want[s.Namespace+"/"+s.Name] = s
		}
	}
	for key := range lb.assigned {
		if s, ok := want[key]; !ok || !lb.keeps(key, s) {
			lb.release(ctx, key)
		}
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys) // automatic addresses in a stable order
	for _, key := range keys {
		lb.sync(ctx, key, want[key])
	}
}

func isOurLB(s *corev1.Service) bool {
	return s.Spec.Type == corev1.ServiceTypeLoadBalancer && s.Spec.LoadBalancerClass == nil
}

// requested is the address a Service asks for, if any.
func requested(s *corev1.Service) (netip.Addr, string, bool) {
	raw := s.Spec.LoadBalancerIP
	if v := s.Annotations[lbIPsAnnotation]; v != "" {
		raw, _, _ = strings.Cut(v, ",")
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return netip.Addr{}, "", false
	}
	a, err := netip.ParseAddr(raw)
	if err != nil {
		return netip.Addr{}, raw, true
	}
	return a, raw, true
}

// keeps reports whether a Service may keep its address: it asks for none or
// for this one.
func (lb *loadBalancer) keeps(key string, s *corev1.Service) bool {
	a, _, asked := requested(s)
	return !asked || a == lb.assigned[key].addr
}

// sync gives one Service an address, opens its ports, sets their endpoints
// and publishes the address.
func (lb *loadBalancer) sync(ctx context.Context, key string, s *corev1.Service) {
	as := lb.assigned[key]
	if as == nil {
		addr, err := lb.allocate(s)
		if err != nil {
			lb.tell(ctx, s, corev1.EventTypeWarning, "AllocationFailed", err.Error())
			return
		}
		if err := ip(ctx, "addr", "add", netip.PrefixFrom(addr, 32).String(), "dev", lb.l.bridge); err != nil {
			lb.tell(ctx, s, corev1.EventTypeWarning, "AllocationFailed", err.Error())
			return
		}
		as = &lbService{addr: addr, listeners: map[string]*lbListener{}}
		lb.assigned[key], lb.owner[addr] = as, key
		lb.tell(ctx, s, corev1.EventTypeNormal, "IPAllocated", "Assigned IP ["+addr.String()+"]")
	}
	lb.syncPorts(ctx, s, as)
	if !as.published || !hasIngress(s, as.addr) {
		as.published = lb.publish(ctx, s, as.addr) == nil
	}
}

// allocate picks the requested address if it is in the pool and free, else
// the next free automatic one.
func (lb *loadBalancer) allocate(s *corev1.Service) (netip.Addr, error) {
	if a, raw, asked := requested(s); asked {
		if !a.Is4() || !lb.l.podPrefix.Contains(a) || a.As4()[3] < firstLBHost || a.As4()[3] > lastLBHost {
			return netip.Addr{}, fmt.Errorf("requested address %q is not in the pool %s-%s", raw, lb.l.hostAddr(firstLBHost), lb.l.hostAddr(lastLBHost))
		}
		if other, taken := lb.owner[a]; taken {
			return netip.Addr{}, fmt.Errorf("requested address %s is in use by Service %s", a, other)
		}
		return a, nil
	}
	for range numAutoLBHosts {
		h := lb.next
		lb.next = firstLBHost + (h-firstLBHost+1)%numAutoLBHosts
		if a := lb.l.hostAddr(h); lb.owner[a] == "" {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no address left in the pool %s-%s", lb.l.hostAddr(firstLBHost), lb.l.hostAddr(firstStaticLB-1))
}

// syncPorts opens a proxy per TCP port, closes the ports that went away and
// hands each its current endpoints.
func (lb *loadBalancer) syncPorts(ctx context.Context, s *corev1.Service, as *lbService) {
	slices, _ := lb.slices.EndpointSlices(s.Namespace).List(labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: s.Name}))
	seen := map[string]bool{}
	for _, sp := range s.Spec.Ports {
		if sp.Protocol != "" && sp.Protocol != corev1.ProtocolTCP {
			lb.tell(ctx, s, corev1.EventTypeWarning, "UnsupportedProtocol",
				fmt.Sprintf("port %d/%s: the local cluster's load balancer proxies TCP only", sp.Port, sp.Protocol))
			continue
		}
		k := fmt.Sprint(sp.Port)
		seen[k] = true
		p := as.listeners[k]
		if p == nil {
			var err error
			if p, err = listenLB(netip.AddrPortFrom(as.addr, uint16(sp.Port)), lb.logf); err != nil {
				lb.tell(ctx, s, corev1.EventTypeWarning, "ListenFailed", err.Error())
				continue
			}
			as.listeners[k] = p
		}
		p.setBackends(backendsFor(sp.Name, slices))
	}
	for k, p := range as.listeners {
		if !seen[k] {
			p.close(ctx)
			delete(as.listeners, k)
		}
	}
}

// backendsFor collects a Service port's endpoints from its EndpointSlices:
// the slice port of the same name carries the resolved target port (named
// target ports resolve per Pod).
func backendsFor(portName string, slices []*discoveryv1.EndpointSlice) *lbBackends {
	b := &lbBackends{}
	for _, sl := range slices {
		if sl.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		for _, p := range sl.Ports {
			if p.Port == nil || ptrValue(p.Name) != portName || (p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP) {
				continue
			}
			for _, e := range sl.Endpoints {
				ready := e.Conditions.Ready == nil || *e.Conditions.Ready
				serving := e.Conditions.Serving != nil && *e.Conditions.Serving
				for _, raw := range e.Addresses {
					a, err := netip.ParseAddr(raw)
					if err != nil {
						continue
					}
					ap := netip.AddrPortFrom(a, uint16(*p.Port))
					switch {
					case ready:
						b.ready = append(b.ready, ap)
					case serving:
						b.serving = append(b.serving, ap)
					}
				}
			}
		}
	}
	return b
}

func ptrValue[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// release closes a Service's ports, removes its address from the bridge and
// clears the Service's status if it still exists (a Service that asked for
// another address gets it written right after).
func (lb *loadBalancer) release(ctx context.Context, key string) {
	as := lb.assigned[key]
	for _, p := range as.listeners {
		p.close(ctx)
	}
	_ = ip(ctx, "addr", "del", netip.PrefixFrom(as.addr, 32).String(), "dev", lb.l.bridge)
	delete(lb.assigned, key)
	delete(lb.owner, as.addr)
	delete(lb.told, key)
	ns, name, _ := strings.Cut(key, "/")
	if s, err := lb.services.Services(ns).Get(name); err == nil && len(s.Status.LoadBalancer.Ingress) > 0 {
		_ = lb.writeIngress(ctx, s, nil)
	}
}

// releaseAll closes every port when the cluster stops; the addresses go
// with the bridge.
func (lb *loadBalancer) releaseAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, as := range lb.assigned {
		for _, p := range as.listeners {
			p.close(ctx)
		}
	}
	lb.assigned = map[string]*lbService{}
}
