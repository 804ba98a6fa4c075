package controller

import (
	"reflect"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// setupInformers registers the informers translation reads and their
// handlers: every relevant change schedules one rebuild.
func (c *Controller) setupInformers() error {
	f := c.factory
	c.listers = listers{factory: f, secrets: c.secrets}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { c.enqueue() },
		UpdateFunc: func(oldObj, newObj any) {
			if changed(oldObj, newObj) {
				c.enqueue()
			}
		},
		DeleteFunc: func(any) { c.enqueue() },
	}
	for _, inf := range []cache.SharedIndexInformer{
		f.Networking().V1().Ingresses().Informer(),
		f.Networking().V1().IngressClasses().Informer(),
		f.Core().V1().Services().Informer(),
		f.Discovery().V1().EndpointSlices().Informer(),
		c.secrets.Core().V1().Secrets().Informer(),
	} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return err
		}
		c.synced = append(c.synced, inf.HasSynced)
	}
	return nil
}

// changed drops updates that cannot change the table: resyncs (same
// resourceVersion), and status-only updates of Ingresses (Weir's own status
// writes among them).
func changed(oldObj, newObj any) bool {
	o, ok1 := oldObj.(metav1.Object)
	n, ok2 := newObj.(metav1.Object)
	if !ok1 || !ok2 {
		return true
	}
	if rv := n.GetResourceVersion(); rv != "" && rv == o.GetResourceVersion() {
		return false
	}
	oi, ok1 := oldObj.(*networkingv1.Ingress)
	ni, ok2 := newObj.(*networkingv1.Ingress)
	if ok1 && ok2 {
		return !reflect.DeepEqual(oi.Spec, ni.Spec) || !reflect.DeepEqual(oi.Annotations, ni.Annotations)
	}
	return true
}

// stripForCache is the informers' transform: managed fields are dropped
// from every object, and Secrets other than kubernetes.io/tls keep no data,
// so the cache holds no credentials Weir has no use for.
func stripForCache(obj any) (any, error) {
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
	}
	switch v := obj.(type) {
	case *corev1.Secret:
		if v.Type != corev1.SecretTypeTLS {
			v.Data, v.StringData = nil, nil
		}
		delete(v.Annotations, corev1.LastAppliedConfigAnnotation)
	case *discoveryv1.EndpointSlice:
		// kept whole: every field feeds translation
	}
	return obj, nil
}
