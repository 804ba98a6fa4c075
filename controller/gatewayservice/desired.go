package gatewayservice

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// desired is the Service a Gateway should have; container ports already
// recorded in cur are kept.
func (m *Manager) desired(w Want, cur *corev1.Service, alloc *allocator) (*corev1.Service, error) {
	gw := w.Gateway
	labels, annotations := infrastructure(gw)
	labels[LabelManagedBy], labels[LabelGatewayName], labels[LabelGatewayNamespace] = ManagedBy, labelValue(gw.Name), labelValue(gw.Namespace)
	annotations[AnnotationGateway] = gatewayKey(gw)
	annotations[AnnotationInfrastructure] = infrastructureKeys(gw)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:        ServiceName(gw.Namespace, gw.Name),
			Namespace:   m.opts.Namespace,
			Labels:      labels,
			Annotations: annotations,
		},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: m.opts.PodSelector,
			// Local keeps the client's address for X-Forwarded-For, as the
			// Service in front of the Ingress ports does (deploy/base).
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
			LoadBalancerIP:        requestedIP(gw),
		},
	}
	if gw.Namespace == m.opts.Namespace {
		svc.OwnerReferences = []metav1.OwnerReference{{APIVersion: gatewayv1.GroupVersion.String(), Kind: "Gateway",
			Name: gw.Name, UID: gw.UID}}
	}
	for _, p := range w.Ports {
		target, ok := recorded(cur, p.Port)
		if !ok || !alloc.claim(target) {
			var err error
			if target, err = alloc.next(); err != nil {
				return nil, fmt.Errorf("Gateway %s port %d: %w", gatewayKey(gw), p.Port, err)
			}
		}
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{
			Name:       fmt.Sprintf("%s-%d", strings.ToLower(p.Protocol), p.Port),
			Protocol:   corev1.ProtocolTCP,
			Port:       p.Port,
			TargetPort: intstr.FromInt32(target),
		})
	}
	return svc, nil
}

// infrastructure are the labels and annotations of the Gateway's
// spec.infrastructure, which go onto the Service (a load balancer's
// settings often are Service annotations); Weir's own keys win.
func infrastructure(gw *gatewayv1.Gateway) (labels, annotations map[string]string) {
	labels, annotations = map[string]string{}, map[string]string{}
	if inf := gw.Spec.Infrastructure; inf != nil {
		for k, v := range inf.Labels {
			labels[string(k)] = string(v)
		}
		for k, v := range inf.Annotations {
			annotations[string(k)] = string(v)
		}
	}
	return labels, annotations
}

// infrastructureKeys is the AnnotationInfrastructure value of gw, sorted.
func infrastructureKeys(gw *gatewayv1.Gateway) string {
	var keys []string
	if inf := gw.Spec.Infrastructure; inf != nil {
		for k := range inf.Labels {
			keys = append(keys, "label:"+string(k))
		}
		for k := range inf.Annotations {
			keys = append(keys, "annotation:"+string(k))
		}
	}
	sort.Strings(keys)
	return strings.Join(keys, ",")
}

// dropInfrastructure removes from up the keys Weir copied before (recorded
// in prev) that desired no longer has; Weir's own keys are never dropped.
func dropInfrastructure(up *corev1.Service, prev string, desired *corev1.Service) {
	for _, k := range strings.Split(prev, ",") {
		if name, ok := strings.CutPrefix(k, "label:"); ok {
			if _, keep := desired.Labels[name]; !keep {
				delete(up.Labels, name)
			}
		} else if name, ok := strings.CutPrefix(k, "annotation:"); ok {
			if _, keep := desired.Annotations[name]; !keep {
				delete(up.Annotations, name)
			}
		}
	}
}

// recorded is the container port cur already gives a listener port.
func recorded(cur *corev1.Service, port int32) (int32, bool) {
	if cur == nil {
		return 0, false
	}
	for _, p := range cur.Spec.Ports {
		if p.Port == port && p.TargetPort.Type == intstr.Int {
			return p.TargetPort.IntVal, true
		}
	}
	return 0, false
}

func needsUpdate(cur, desired *corev1.Service) bool {
	if !equality.Semantic.DeepEqual(cur.Spec.Selector, desired.Spec.Selector) || cur.Spec.Type != desired.Spec.Type ||
		cur.Spec.ExternalTrafficPolicy != desired.Spec.ExternalTrafficPolicy || cur.Spec.LoadBalancerIP != desired.Spec.LoadBalancerIP ||
		!equality.Semantic.DeepEqual(cur.OwnerReferences, desired.OwnerReferences) {
		return true
	}
	for k, v := range desired.Labels {
		if cur.Labels[k] != v {
			return true
		}
	}
	for k, v := range desired.Annotations {
		if cur.Annotations[k] != v {
			return true
		}
	}
	if len(cur.Spec.Ports) != len(desired.Spec.Ports) {
		return true
	}
	for i, p := range desired.Spec.Ports {
		c := cur.Spec.Ports[i]
		if c.Name != p.Name || c.Port != p.Port || c.TargetPort != p.TargetPort || c.Protocol != p.Protocol {
			return true
		}
	}
	return false
}

// labelValue cuts a name to a valid label value (the annotation keeps it
// whole).
func labelValue(s string) string {
	if len(s) <= 63 {
		return s
	}
	return strings.TrimRight(s[:63], "-._")
}

// allocator hands out container ports: each at most once per Sync, never
// one a Service already records for another listener.
type allocator struct {
	min, max int32
	used     map[int32]bool // recorded in some Service
	claimed  map[int32]bool // given to a listener in this Sync
	cursor   int32
}

func newAllocator(min, max int32, used map[int32]bool) *allocator {
	return &allocator{min: min, max: max, used: used, claimed: make(map[int32]bool), cursor: min}
}

// claim keeps a recorded port for its listener; false if another listener
// of this Sync already has it (two Services recorded the same port).
func (a *allocator) claim(p int32) bool {
	if p < a.min || p > a.max || a.claimed[p] {
		return false
	}
	a.claimed[p] = true
	return true
}

var errNoPorts = errors.New("no free container port left in the Gateway port range")

// next is the lowest port neither recorded nor claimed.
func (a *allocator) next() (int32, error) {
	for ; a.cursor <= a.max; a.cursor++ {
		if !a.used[a.cursor] && !a.claimed[a.cursor] {
			a.claimed[a.cursor] = true
			return a.cursor, nil
		}
	}
	return 0, errNoPorts
}

func joinErrors(errs []error) error { return errors.Join(errs...) }
