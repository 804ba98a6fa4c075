package gatewaystatus

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"weir.dev/weir/controller/translate"
)

// listenerSet writes a ListenerSet's status: conditions and one entry per
// listener, compared and merged as a Gateway's (the entries have the same
// fields).
func (w *Writer) listenerSet(ctx context.Context, l Listers, ss translate.ListenerSetStatus) error {
	if l.ListenerSets == nil {
		return nil
	}
	cached, err := l.ListenerSets.ListenerSets(ss.Namespace).Get(ss.Name)
	if err != nil || cached.Generation != ss.Generation {
		return nil
	}
	want := asGatewayStatus(ss.Status)
	api := w.client.GatewayV1().ListenerSets(ss.Namespace)
	err = write(ctx, cached,
		func(ctx context.Context) (*gatewayv1.ListenerSet, error) {
			return api.Get(ctx, ss.Name, metav1.GetOptions{})
		},
		func(cur *gatewayv1.ListenerSet) (*gatewayv1.ListenerSet, bool) {
			have := asGatewayStatus(cur.Status)
			if cur.Generation != ss.Generation || gatewayStatusEqual(have, want) {
				return nil, false
			}
			merged := mergeGatewayStatus(have, want, w.Now())
			up := cur.DeepCopy()
			up.Status.Conditions = merged.Conditions
			up.Status.Listeners = make([]gatewayv1.ListenerEntryStatus, len(merged.Listeners))
			for i, ls := range merged.Listeners {
				up.Status.Listeners[i] = gatewayv1.ListenerEntryStatus(ls)
			}
			return up, true
		},
		func(ctx context.Context, up *gatewayv1.ListenerSet) error {
			_, err := api.UpdateStatus(ctx, up, metav1.UpdateOptions{})
			return err
		})
	if err = ignoreNotFound(err); err != nil {
		return fmt.Errorf("ListenerSet %s/%s: %w", ss.Namespace, ss.Name, err)
	}
	return nil
}

func asGatewayStatus(s gatewayv1.ListenerSetStatus) gatewayv1.GatewayStatus {
	out := gatewayv1.GatewayStatus{Conditions: s.Conditions, Listeners: make([]gatewayv1.ListenerStatus, len(s.Listeners))}
	for i, l := range s.Listeners {
		out.Listeners[i] = gatewayv1.ListenerStatus(l)
	}
	return out
}
