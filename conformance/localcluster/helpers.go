package localcluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
)

// Helpers for tests written on the cluster. Every wait is bounded by its
// context; give it a deadline.

// WaitPodsReady waits until exactly n Pods matching selector in ns are Ready
// and not being deleted, and returns them.
func (c *Cluster) WaitPodsReady(ctx context.Context, ns, selector string, n int) ([]corev1.Pod, error) {
	var ready []corev1.Pod
	err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, nil
		}
		ready = ready[:0]
		for _, p := range list.Items {
			if p.DeletionTimestamp == nil && PodReady(&p) {
				ready = append(ready, p)
			}
		}
		return len(ready) == n, nil
	})
	if err != nil {
		return nil, fmt.Errorf("waiting for %d ready Pods %q in %s (have %d): %w", n, selector, ns, len(ready), err)
	}
	return ready, nil
}

// PodReady reports the Pod's Ready condition.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// WaitEndpointsReady waits until the Service's EndpointSlices hold exactly n
// ready endpoints.
func (c *Cluster) WaitEndpointsReady(ctx context.Context, ns, service string, n int) error {
	count := 0
	err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		list, err := c.Client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{
			LabelSelector: discoveryv1.LabelServiceName + "=" + service,
		})
		if err != nil {
			return false, nil
		}
		count = 0
		for _, s := range list.Items {
			for _, e := range s.Endpoints {
				if e.Conditions.Ready != nil && *e.Conditions.Ready {
					count++
				}
			}
		}
		return count == n, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %d ready endpoints of Service %s/%s (have %d): %w", n, ns, service, count, err)
	}
	return nil
}

// ApplyYAML server-side applies every object of a multi-document YAML (field
// manager "weir-localcluster"). Objects without a namespace go to
// defaultNamespace when their kind is namespaced. Kinds from CRDs applied
// earlier in the same call are found.
func (c *Cluster) ApplyYAML(ctx context.Context, data []byte, defaultNamespace string) error {
	dyn, err := dynamic.NewForConfig(c.Config)
	if err != nil {
		return fmt.Errorf("creating a dynamic client: %w", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Client.Discovery()))
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("splitting YAML: %w", err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		if err := applyDoc(ctx, dyn, mapper, doc, defaultNamespace); err != nil {
			return err
		}
	}
}

func applyDoc(ctx context.Context, dyn dynamic.Interface, mapper *restmapper.DeferredDiscoveryRESTMapper, doc []byte, defaultNS string) error {
	obj := &unstructured.Unstructured{}
	if err := utilyaml.Unmarshal(doc, &obj.Object); err != nil {
		return fmt.Errorf("decoding YAML: %w", err)
	}
	if len(obj.Object) == 0 {
		return nil
	}
	gvk := obj.GroupVersionKind()
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) { // a CRD applied just before
		mapper.Reset()
		err = wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			mapper.Reset()
			mapping, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
			return err == nil, nil
		})
	}
	if err != nil {
		return fmt.Errorf("mapping %s: %w", gvk, err)
	}
	var res dynamic.ResourceInterface = dyn.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(defaultNS)
		}
		res = dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace())
	}
	body, err := obj.MarshalJSON()
	if err != nil {
		return fmt.Errorf("encoding %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	force := true
	_, err = res.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: "weir-localcluster", Force: &force})
	if err != nil {
		return fmt.Errorf("applying %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}
