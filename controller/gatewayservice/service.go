// Package gatewayservice gives every one of Weir's Gateways its own address
// in a cluster: one Service of type LoadBalancer per Gateway, in Weir's
// namespace, selecting Weir's own Pods. Each Gateway listener port is a
// Service port whose targetPort is a container port Weir allocates from a
// range; every replica binds that container port for that listener, so two
// Gateways that both listen on port 80 are told apart by container port
// (behind kube-proxy the destination address a Pod sees is its own, never
// the load balancer's).
//
// The Service is the record of the allocation: a port once allocated stays
// with its Gateway listener across restarts, leader changes and replicas,
// because every replica reads it back from the Service. Only the leader
// writes (Sync); every replica reads (ContainerPort, Addresses).
//
// An owner reference to the Gateway is set only when the Gateway is in
// Weir's namespace: Kubernetes refuses owners in another namespace (its
// garbage collector would delete the Service at once), so for those the
// leader deletes the Service itself when the Gateway goes.
package gatewayservice

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strings"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Labels and annotations on the Services Weir manages.
const (
	LabelGatewayName      = "gateway.networking.k8s.io/gateway-name"
	LabelGatewayNamespace = "gateway.networking.k8s.io/gateway-namespace"
	LabelManagedBy        = "app.kubernetes.io/managed-by"
	ManagedBy             = "weir"
	// AnnotationGateway holds "namespace/name" of the Gateway in full
	// (label values are cut at 63 characters).
	AnnotationGateway = "weir.dev/gateway"
	// AnnotationInfrastructure lists the label and annotation keys Weir
	// copied from the Gateway's spec.infrastructure ("label:k,annotation:k"),
	// so that a key removed there is removed from the Service too.
	AnnotationInfrastructure = "weir.dev/infrastructure-keys"
)

// Options configure the Services.
type Options struct {
	// Namespace holds the Services: Weir's own (default $POD_NAMESPACE,
	// else "default"). Their selector only reaches Pods there.
	Namespace string
	// PodSelector selects Weir's Pods (default app.kubernetes.io/name=weir,
	// as deploy/base labels them).
	PodSelector map[string]string
	// PortMin and PortMax bound the container ports allocated to listeners
	// (default 20000-29999). Keep them clear of --http-port, --https-port
	// and --metrics-port.
	PortMin, PortMax int32
}

func (o Options) withDefaults() Options {
	if o.Namespace == "" {
		o.Namespace = os.Getenv("POD_NAMESPACE")
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if len(o.PodSelector) == 0 {
		o.PodSelector = map[string]string{"app.kubernetes.io/name": "weir"}
	}
	if o.PortMin <= 0 || o.PortMax < o.PortMin {
		o.PortMin, o.PortMax = 20000, 29999
	}
	return o
}

// Manager reads and (on the leader) writes the Gateway Services.
type Manager struct {
	client  kubernetes.Interface
	opts    Options
	log     *zap.Logger
	factory informers.SharedInformerFactory
	lister  corelisters.ServiceLister
	synced  cache.InformerSynced
}

// New watches the managed Services of opts.Namespace; onChange is called
// on every change to them (a new port or address to act on).
func New(client kubernetes.Interface, opts Options, onChange func(), log *zap.Logger) (*Manager, error) {
	opts = opts.withDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(opts.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = LabelManagedBy + "=" + ManagedBy }))
	inf := f.Core().V1().Services()
	h := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { onChange() },
		UpdateFunc: func(any, any) { onChange() },
		DeleteFunc: func(any) { onChange() },
	}
	if _, err := inf.Informer().AddEventHandler(h); err != nil {
		return nil, fmt.Errorf("watching Gateway Services: %w", err)
	}
	return &Manager{client: client, opts: opts, log: log, factory: f, lister: inf.Lister(), synced: inf.Informer().HasSynced}, nil
}

// Start runs the Service informer until ctx ends.
func (m *Manager) Start(ctx context.Context) { m.factory.Start(ctx.Done()) }

// Synced reports whether the Service cache is filled.
func (m *Manager) Synced() bool { return m.synced() }

// Shutdown waits for the informer to stop (after ctx ended).
func (m *Manager) Shutdown() { m.factory.Shutdown() }

// Namespace is where the Services are.
func (m *Manager) Namespace() string { return m.opts.Namespace }

// ServiceName is the name of a Gateway's Service: "weir-<namespace>-<name>"
// when that is a valid Service name, else a shortened form with a hash of
// the full name.
func ServiceName(namespace, name string) string {
	base := "weir-" + namespace + "-" + name
	if len(validation.IsDNS1035Label(base)) == 0 {
		return base
	}
	sum := sha256.Sum256([]byte(namespace + "/" + name))
	clean := strings.Trim(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, base), "-")
	if len(clean) > 50 {
		clean = strings.TrimRight(clean[:50], "-")
	}
	return clean + "-" + hex.EncodeToString(sum[:])[:12]
}

// service returns the cached Service of a Gateway (nil if none).
func (m *Manager) service(namespace, name string) *corev1.Service {
	svc, err := m.lister.Services(m.opts.Namespace).Get(ServiceName(namespace, name))
	if err != nil || svc.Annotations[AnnotationGateway] != namespace+"/"+name {
		return nil
	}
	return svc
}

// ContainerPort is the container port the listener port of a Gateway is
// bound to, as its Service records it; false until the leader allocated
// one.
func (m *Manager) ContainerPort(namespace, name string, port int32) (int32, bool) {
	svc := m.service(namespace, name)
	if svc == nil {
		return 0, false
	}
	for _, p := range svc.Spec.Ports {
		if p.Port == port && p.TargetPort.Type == intstr.Int && p.TargetPort.IntVal > 0 {
			return p.TargetPort.IntVal, true
		}
	}
	return 0, false
}

// Addresses are the Gateway's addresses: its Service's load-balancer
// ingress points. unusable says why spec.addresses could not be honoured
// ("" when it was, or is empty).
func (m *Manager) Addresses(gw *gatewayv1.Gateway) (addrs []gatewayv1.GatewayStatusAddress, unusable string) {
	svc := m.service(gw.Namespace, gw.Name)
	if svc == nil {
		return nil, requestedProblem(gw)
	}
	ip, hostname := gatewayv1.IPAddressType, gatewayv1.HostnameAddressType
	for _, in := range svc.Status.LoadBalancer.Ingress {
		switch {
		case in.IP != "":
			addrs = append(addrs, gatewayv1.GatewayStatusAddress{Type: &ip, Value: in.IP})
		case in.Hostname != "":
			addrs = append(addrs, gatewayv1.GatewayStatusAddress{Type: &hostname, Value: in.Hostname})
		}
	}
	if p := requestedProblem(gw); p != "" {
		return addrs, p
	}
	if want := requestedIP(gw); want != "" && len(addrs) > 0 && !hasAddress(addrs, want) {
		return addrs, fmt.Sprintf("the load balancer assigned %s, not the requested %s", addrs[0].Value, want)
	}
	return addrs, ""
}

func hasAddress(addrs []gatewayv1.GatewayStatusAddress, v string) bool {
	for _, a := range addrs {
		if a.Value == v {
			return true
		}
	}
	return false
}

// requestedIP is the one IP address spec.addresses asks for ("" for none,
// for any address, or for a request Weir cannot honour).
func requestedIP(gw *gatewayv1.Gateway) string {
	a := requested(gw)
	if len(a) != 1 || requestedProblem(gw) != "" {
		return ""
	}
	return a[0].Value
}

// requested are the spec.addresses that name an address. An entry without
// a value asks for any address of its type (GatewayAddressEmpty): the one
// the load balancer assigns anyway, so it asks for nothing in particular.
func requested(gw *gatewayv1.Gateway) []gatewayv1.GatewaySpecAddress {
	var out []gatewayv1.GatewaySpecAddress
	for _, a := range gw.Spec.Addresses {
		if a.Value != "" {
			out = append(out, a)
		}
	}
	return out
}

// requestedProblem says why spec.addresses cannot be honoured: Weir asks
// the load balancer for one IP address (Service spec.loadBalancerIP, which
// MetalLB and most cloud load balancers honour), nothing else.
func requestedProblem(gw *gatewayv1.Gateway) string {
	for _, a := range gw.Spec.Addresses {
		if a.Value == "" && a.Type != nil && *a.Type != gatewayv1.IPAddressType {
			return fmt.Sprintf("Weir can ask the load balancer for any IPAddress, not for any %s", *a.Type)
		}
	}
	a := requested(gw)
	switch {
	case len(a) == 0:
		return ""
	case len(a) > 1:
		return "Weir can request only one address per Gateway from the load balancer"
	case a[0].Type != nil && *a[0].Type != gatewayv1.IPAddressType:
		return fmt.Sprintf("Weir can request only an IPAddress from the load balancer, not a %s", *a[0].Type)
	}
	if _, err := netip.ParseAddr(a[0].Value); err != nil {
		return fmt.Sprintf("%q is not an IP address", a[0].Value)
	}
	return ""
}

// Want is one Gateway that needs a Service, and its listener ports.
type Want struct {
	Gateway *gatewayv1.Gateway
	Ports   []Port
}

// Port is one listener port of a Gateway.
type Port struct {
	Port     int32
	Protocol string // the listener protocol, for the Service port's name
}

// Sync makes the managed Services exactly wants (leader only): creates the
// missing ones, updates those whose ports, selector or requested address
// changed (keeping every container port already allocated), and deletes
// those of Gateways that are gone. Errors are logged and returned joined;
// the next Sync tries again.
func (m *Manager) Sync(ctx context.Context, wants []Want) error {
	existing, err := m.lister.Services(m.opts.Namespace).List(labels.SelectorFromSet(labels.Set{LabelManagedBy: ManagedBy}))
	if err != nil {
		return fmt.Errorf("listing Gateway Services: %w", err)
	}
	byGateway := make(map[string]*corev1.Service, len(existing))
	used := make(map[int32]bool)
	for _, svc := range existing {
		byGateway[svc.Annotations[AnnotationGateway]] = svc
		for _, p := range svc.Spec.Ports {
			if p.TargetPort.Type == intstr.Int {
				used[p.TargetPort.IntVal] = true
			}
		}
	}
	wants = append([]Want(nil), wants...)
	sort.Slice(wants, func(i, j int) bool { return gatewayKey(wants[i].Gateway) < gatewayKey(wants[j].Gateway) })
	alloc := newAllocator(m.opts.PortMin, m.opts.PortMax, used)
	var errs []error
	wanted := make(map[string]bool, len(wants))
	for _, w := range wants {
		key := gatewayKey(w.Gateway)
		wanted[key] = true
		if err := m.apply(ctx, w, byGateway[key], alloc); err != nil {
			errs = append(errs, err)
		}
	}
	for key, svc := range byGateway {
		if wanted[key] {
			continue
		}
		err := m.client.CoreV1().Services(svc.Namespace).Delete(ctx, svc.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting Service %s of a Gateway that is gone: %w", svc.Name, err))
			continue
		}
		m.log.Info("deleted the Service of a Gateway that is gone", zap.String("service", svc.Name), zap.String("gateway", key))
	}
	for _, err := range errs {
		m.log.Warn("Gateway Service", zap.Error(err))
	}
	return joinErrors(errs)
}

func merged(base, ours map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(ours))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range ours {
		out[k] = v
	}
	return out
}

func gatewayKey(gw *gatewayv1.Gateway) string { return gw.Namespace + "/" + gw.Name }

// apply creates or updates the Service of one Gateway.
func (m *Manager) apply(ctx context.Context, w Want, cur *corev1.Service, alloc *allocator) error {
	desired, err := m.desired(w, cur, alloc)
	if err != nil {
		return err
	}
	services := m.client.CoreV1().Services(m.opts.Namespace)
	if cur == nil {
		if _, err := services.Create(ctx, desired, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating Service %s for Gateway %s: %w", desired.Name, gatewayKey(w.Gateway), err)
		}
		m.log.Info("created the Service of a Gateway", zap.String("service", desired.Name), zap.String("gateway", gatewayKey(w.Gateway)))
		return nil
	}
	if !needsUpdate(cur, desired) {
		return nil
	}
	up := cur.DeepCopy()
	// Labels and annotations others added (a cloud load balancer's, say)
	// stay; Weir sets only its own.
	up.Labels, up.Annotations = merged(cur.Labels, desired.Labels), merged(cur.Annotations, desired.Annotations)
	dropInfrastructure(up, cur.Annotations[AnnotationInfrastructure], desired)
	up.OwnerReferences = desired.OwnerReferences
	up.Spec.Type, up.Spec.Selector, up.Spec.Ports = desired.Spec.Type, desired.Spec.Selector, desired.Spec.Ports
	up.Spec.ExternalTrafficPolicy, up.Spec.LoadBalancerIP = desired.Spec.ExternalTrafficPolicy, desired.Spec.LoadBalancerIP
	if _, err := services.Update(ctx, up, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating Service %s of Gateway %s: %w", up.Name, gatewayKey(w.Gateway), err)
	}
	return nil
}
