package controller

import (
	"context"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
)

// named follows the objects of one kind that Weir's Ingresses (or the
// global ConfigMap) name by "namespace/name": a metadata-only informer
// (stripAllData) shows that they exist and when they change, and the data
// of a named one is read with one Get per resourceVersion. So the process
// holds the data of no object nobody names.
type named[T metav1.Object] struct {
	// cached is the informer's copy (metadata only); an error means the
	// object does not exist.
	cached func(ns, name string) (T, error)
	// get reads the object with its data from the API server.
	get func(ctx context.Context, ns, name string) (T, error)

	mu   sync.Mutex
	keys map[string]bool // named by the last rebuild (read by the handler)
	// data holds the fetched copies; only the rebuild goroutine touches
	// it, so no Get runs under mu.
	data map[string]T
}

func newNamed[T metav1.Object](cached func(ns, name string) (T, error), get func(ctx context.Context, ns, name string) (T, error)) *named[T] {
	return &named[T]{cached: cached, get: get, keys: map[string]bool{}, data: map[string]T{}}
}

func (n *named[T]) isNamed(key string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.keys[key]
}

// handler schedules a rebuild for a change of a named object.
func (n *named[T]) handler(enqueue func()) cache.ResourceEventHandler {
	onChange := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		o, ok := obj.(metav1.Object)
		if !ok || n.isNamed(o.GetNamespace()+"/"+o.GetName()) {
			enqueue()
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: onChange,
		UpdateFunc: func(oldObj, newObj any) {
			if changed(oldObj, newObj) {
				onChange(newObj)
			}
		},
		DeleteFunc: onChange,
	}
}

// resolve returns the named objects with their data, sorted by key. An
// object the informer does not know is left out (translation reports it);
// one whose Get fails is left out too and reported in failed: never a
// stale copy of an object known to have changed.
func (n *named[T]) resolve(keys map[string]bool) (out []T, failed map[string]error) {
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	n.mu.Lock()
	n.keys = keys
	n.mu.Unlock()
	for k := range n.data {
		if !keys[k] {
			delete(n.data, k)
		}
	}
	for _, key := range sorted {
		o, found, err := n.fetch(key)
		if err != nil {
			if failed == nil {
				failed = map[string]error{}
			}
			failed[key] = err
		}
		if found {
			out = append(out, o)
		}
	}
	return out, failed
}

// fetch returns the data of one named object, from the last Get when the
// informer shows the same resourceVersion.
func (n *named[T]) fetch(key string) (T, bool, error) {
	var zero T
	ns, name, _ := strings.Cut(key, "/")
	meta, err := n.cached(ns, name)
	if err != nil {
		delete(n.data, key)
		return zero, false, nil // not in the informer: it does not exist
	}
	if have, ok := n.data[key]; ok && meta.GetResourceVersion() != "" && have.GetResourceVersion() == meta.GetResourceVersion() {
		return have, true, nil
	}
	delete(n.data, key)
	ctx, cancel := context.WithTimeout(context.Background(), secretFetchTimeout)
	defer cancel()
	o, err := n.get(ctx, ns, name)
	if apierrors.IsNotFound(err) {
		return zero, false, nil
	}
	if err != nil {
		return zero, false, err
	}
	o.SetManagedFields(nil)
	if a := o.GetAnnotations(); a != nil {
		delete(a, corev1.LastAppliedConfigAnnotation)
	}
	n.data[key] = o
	return o, true, nil
}

// stripAllData is the transform of the metadata-only informers: no data,
// no managed fields, no last-applied copy (which would hold the data).
func stripAllData(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Secret:
		o.Data, o.StringData = nil, nil
	case *corev1.ConfigMap:
		o.Data, o.BinaryData = nil, nil
	}
	if m, ok := obj.(metav1.Object); ok {
		m.SetManagedFields(nil)
		if a := m.GetAnnotations(); a != nil {
			delete(a, corev1.LastAppliedConfigAnnotation)
		}
	}
	return obj, nil
}
