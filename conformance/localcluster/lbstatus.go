package localcluster

import (
	"context"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// hasIngress reports whether a Service's status shows exactly addr.
func hasIngress(s *corev1.Service, addr netip.Addr) bool {
	in := s.Status.LoadBalancer.Ingress
	return len(in) == 1 && in[0].IP == addr.String()
}

// publish writes the Service's address to status.loadBalancer.ingress.
func (lb *loadBalancer) publish(ctx context.Context, s *corev1.Service, addr netip.Addr) error {
	vip := corev1.LoadBalancerIPModeVIP
	err := lb.writeIngress(ctx, s, []corev1.LoadBalancerIngress{{IP: addr.String(), IPMode: &vip}})
	if err != nil && ctx.Err() == nil {
		lb.logf("loadbalancer: writing the status of Service %s/%s: %v", s.Namespace, s.Name, err)
	}
	return err
}

// writeIngress replaces status.loadBalancer.ingress, re-reading the Service
// on a conflict.
func (lb *loadBalancer) writeIngress(ctx context.Context, s *corev1.Service, in []corev1.LoadBalancerIngress) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	svcs := lb.client.CoreV1().Services(s.Namespace)
	cur := s.DeepCopy()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur.Status.LoadBalancer.Ingress = in
		_, err := svcs.UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if err != nil {
			if fresh, gerr := svcs.Get(ctx, s.Name, metav1.GetOptions{}); gerr == nil {
				cur = fresh
			}
		}
		return err
	})
}

// tell records an Event about a Service once per distinct reason and message.
func (lb *loadBalancer) tell(ctx context.Context, s *corev1.Service, typ, reason, msg string) {
	key := s.Namespace + "/" + s.Name
	if lb.told[key] == reason+msg {
		return
	}
	lb.told[key] = reason + msg
	if typ == corev1.EventTypeWarning {
		lb.logf("loadbalancer: Service %s: %s: %s", key, reason, msg)
	}
	ref := corev1.ObjectReference{Kind: "Service", APIVersion: "v1", Namespace: s.Namespace, Name: s.Name, UID: s.UID}
	recordEvent(ctx, lb.client, ref, typ, reason, msg, corev1.EventSource{Component: "weir-loadbalancer", Host: lb.l.nodeName()}, lb.logf)
}
