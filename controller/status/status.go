// Package status keeps Ingress status.loadBalancer in step with the
// addresses Weir is reached at (--publish-status-address, or the
// --publish-service Service's load-balancer addresses, external IPs or
// cluster IP). Only the replica holding the Lease named by --election-id
// writes; every replica serves traffic either way. It writes only changes,
// and clears the addresses it wrote from Ingresses that stop being Weir's.
package status

import (
	"context"
	"net/netip"
	"os"
	"reflect"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Options configure Ingress status writing.
type Options struct {
	// PublishStatusAddress is a comma-separated list of IPs or host names
	// written to status; it wins over PublishService.
	PublishStatusAddress string
	// PublishService is namespace/name of the Service in front of Weir,
	// whose load-balancer addresses (or external IPs, or cluster IP) are
	// written to status.
	PublishService string
	// ElectionID names the Lease that elects the one replica writing status
	// (default weir-leader), in ElectionNamespace (default: POD_NAMESPACE,
	// else "default").
	ElectionID        string
	ElectionNamespace string
	// Identity of this replica in the election (default: the host name).
	Identity string
	// Resync rewrites status this often even without changes (default 1m).
	Resync time.Duration
	// Also runs after each Ingress status pass while this replica leads:
	// the other leader-only work (Gateway API status, Gateway Services).
	Also func(ctx context.Context)
}

// Source is the controller's view of the Ingresses: the cached list and
// whether an Ingress is Weir's.
type Source interface {
	Ingresses() []*networkingv1.Ingress
	IsWeirs(ing *networkingv1.Ingress) bool
}

// Writer writes Ingress status while this replica leads.
type Writer struct {
	client kubernetes.Interface
	opts   Options
	log    *zap.Logger
	pokes  chan struct{}
	// pending maps namespace/name to the resourceVersion an Ingress had
	// when Weir wrote its status; while the cache still shows that version
	// the write is not visible yet and is not repeated.
	pending map[string]string
}

// New prepares a Writer; Run starts it.
func New(client kubernetes.Interface, opts Options, log *zap.Logger) *Writer {
	if opts.ElectionID == "" {
		opts.ElectionID = "weir-leader"
	}
	if opts.ElectionNamespace == "" {
		opts.ElectionNamespace = os.Getenv("POD_NAMESPACE")
	}
	if opts.ElectionNamespace == "" {
		opts.ElectionNamespace = "default"
	}
	if opts.Identity == "" {
		opts.Identity, _ = os.Hostname()
	}
	if opts.Resync <= 0 {
		opts.Resync = time.Minute
	}
	return &Writer{client: client, opts: opts, log: log, pokes: make(chan struct{}, 1), pending: make(map[string]string)}
}

// Poke asks the leader to reconcile status soon (after a new table).
func (s *Writer) Poke() {
	select {
	case s.pokes <- struct{}{}:
	default:
	}
}

// Run takes part in the election until ctx ends; while leading it keeps
// Ingress status in step. Every replica serves traffic either way.
func (s *Writer) Run(ctx context.Context, src Source) {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: s.opts.ElectionID, Namespace: s.opts.ElectionNamespace},
		Client:     s.client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: s.opts.Identity},
	}
	cfg := leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   15 * time.Second,
		RenewDeadline:   10 * time.Second,
		RetryPeriod:     2 * time.Second,
		ReleaseOnCancel: true,
		Name:            "weir-status",
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) { s.lead(ctx, src) },
			OnStoppedLeading: func() { s.log.Info("no longer writing status") },
		},
	}
	// A replica that loses the Lease campaigns again until ctx ends.
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(cfg)
		if err != nil {
			s.log.Error("leader election is misconfigured; Ingress status is not written", zap.Error(err))
			return
		}
		le.Run(ctx)
	}
}

func (s *Writer) lead(ctx context.Context, src Source) {
	s.log.Info("leading: writing status", zap.String("identity", s.opts.Identity))
	tick := time.NewTicker(s.opts.Resync)
	defer tick.Stop()
	for {
		s.sync(ctx, src)
		if s.opts.Also != nil {
			s.opts.Also(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.pokes:
		case <-tick.C:
		}
	}
}

// sync writes the published addresses to every Ingress that is Weir's, and
// clears them from Ingresses that are not (any more). It writes only
// changes.
func (s *Writer) sync(ctx context.Context, src Source) {
	addrs, err := s.addresses(ctx)
	if err != nil {
		s.log.Warn("cannot read the addresses to publish", zap.Error(err))
		return
	}
	for _, ing := range src.Ingresses() {
		current := ing.Status.LoadBalancer.Ingress
		want := addrs
		if !src.IsWeirs(ing) {
			if len(current) == 0 || !sameAddresses(current, addrs) {
				continue // not ours, and not written by us
			}
			want = nil
		}
		key := ing.Namespace + "/" + ing.Name
		if sameAddresses(current, want) {
			delete(s.pending, key)
			continue
		}
		if rv, ok := s.pending[key]; ok && rv == ing.ResourceVersion {
			continue // our write has not reached the cache yet
		}
		s.pending[key] = ing.ResourceVersion
		up := ing.DeepCopy()
		up.Status.LoadBalancer.Ingress = want
		if _, err := s.client.NetworkingV1().Ingresses(ing.Namespace).UpdateStatus(ctx, up, metav1.UpdateOptions{}); err != nil {
			s.log.Warn("updating Ingress status", zap.String("namespace", ing.Namespace), zap.String("ingress", ing.Name), zap.Error(err))
		}
	}
}

// Addresses are the addresses Weir publishes (--publish-status-address,
// else --publish-service's), sorted; Gateways use them when Weir gives
// them no Service of their own.
func (s *Writer) Addresses(ctx context.Context) ([]networkingv1.IngressLoadBalancerIngress, error) {
	return s.addresses(ctx)
}

func (s *Writer) addresses(ctx context.Context) ([]networkingv1.IngressLoadBalancerIngress, error) {
	var out []networkingv1.IngressLoadBalancerIngress
	if s.opts.PublishStatusAddress != "" {
		for _, a := range strings.Split(s.opts.PublishStatusAddress, ",") {
			out = appendAddress(out, strings.TrimSpace(a))
		}
		return sortAddresses(out), nil
	}
	if s.opts.PublishService == "" {
		return nil, nil
	}
	ns, name, _ := strings.Cut(s.opts.PublishService, "/")
	svc, err := s.client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	for _, lb := range svc.Status.LoadBalancer.Ingress {
		out = append(out, networkingv1.IngressLoadBalancerIngress{IP: lb.IP, Hostname: lb.Hostname})
	}
	if len(out) == 0 {
		for _, ip := range svc.Spec.ExternalIPs {
			out = appendAddress(out, ip)
		}
	}
	if len(out) == 0 && svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone {
		out = appendAddress(out, svc.Spec.ClusterIP)
	}
	return sortAddresses(out), nil
}

func appendAddress(out []networkingv1.IngressLoadBalancerIngress, a string) []networkingv1.IngressLoadBalancerIngress {
	if a == "" {
		return out
	}
	if _, err := netip.ParseAddr(a); err == nil {
		return append(out, networkingv1.IngressLoadBalancerIngress{IP: a})
	}
	return append(out, networkingv1.IngressLoadBalancerIngress{Hostname: a})
}

func sortAddresses(a []networkingv1.IngressLoadBalancerIngress) []networkingv1.IngressLoadBalancerIngress {
	sort.Slice(a, func(i, j int) bool { return a[i].IP+a[i].Hostname < a[j].IP+a[j].Hostname })
	return a
}

func sameAddresses(a, b []networkingv1.IngressLoadBalancerIngress) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return reflect.DeepEqual(sortAddresses(append([]networkingv1.IngressLoadBalancerIngress(nil), a...)), b)
}
