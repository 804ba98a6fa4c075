package localcluster

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// envResolver builds a container's environment the way the kubelet does:
// envFrom first, then env in order, with $(VAR) references to earlier
// variables expanded. A missing Secret or ConfigMap that is not optional is an
// error, and the caller retries later.
type envResolver struct {
	client kubernetes.Interface
	pod    *corev1.Pod
	podIP  string
	hostIP string
}

func (r *envResolver) resolve(ctx context.Context, c *corev1.Container, base map[string]string) ([]string, map[string]string, error) {
	vars := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	for k, v := range base {
		set(k, v)
	}
	for _, from := range c.EnvFrom {
		kv, err := r.envFrom(ctx, from)
		if err != nil {
			return nil, nil, err
		}
		for k, v := range kv {
			set(from.Prefix+k, v)
		}
	}
	for _, e := range c.Env {
		v, err := r.value(ctx, e, vars)
		if err != nil {
			return nil, nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		set(e.Name, v)
	}
	env := make([]string, 0, len(order))
	for _, k := range order {
		env = append(env, k+"="+vars[k])
	}
	return env, vars, nil
}

func (r *envResolver) value(ctx context.Context, e corev1.EnvVar, vars map[string]string) (string, error) {
	src := e.ValueFrom
	switch {
	case src == nil:
		return expand(e.Value, vars), nil
	case src.FieldRef != nil:
		return fieldValue(r.pod, src.FieldRef.FieldPath, r.podIP, r.hostIP)
	case src.ResourceFieldRef != nil:
		return "0", nil // no resource accounting here
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		return r.key(ctx, "Secret", ref.Name, ref.Key, ref.Optional)
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		return r.key(ctx, "ConfigMap", ref.Name, ref.Key, ref.Optional)
	}
	return "", fmt.Errorf("unsupported valueFrom")
}

func (r *envResolver) key(ctx context.Context, kind, name, key string, optional *bool) (string, error) {
	data, err := readData(ctx, r.client, kind, r.pod.Namespace, name)
	if err != nil {
		if apierrors.IsNotFound(err) && optional != nil && *optional {
			return "", nil
		}
		return "", err
	}
	v, ok := data[key]
	if !ok && (optional == nil || !*optional) {
		return "", fmt.Errorf("%s %s/%s has no key %q", kind, r.pod.Namespace, name, key)
	}
	return string(v), nil
}

func (r *envResolver) envFrom(ctx context.Context, from corev1.EnvFromSource) (map[string]string, error) {
	kind, name, optional := "", "", (*bool)(nil)
	switch {
	case from.SecretRef != nil:
		kind, name, optional = "Secret", from.SecretRef.Name, from.SecretRef.Optional
	case from.ConfigMapRef != nil:
		kind, name, optional = "ConfigMap", from.ConfigMapRef.Name, from.ConfigMapRef.Optional
	default:
		return nil, nil
	}
	data, err := readData(ctx, r.client, kind, r.pod.Namespace, name)
	if err != nil {
		if apierrors.IsNotFound(err) && optional != nil && *optional {
			return nil, nil
		}
		return nil, err
	}
	out := make(map[string]string, len(data))
	for k, v := range data {
		out[k] = string(v)
	}
	return out, nil
}

// readData returns a Secret's or ConfigMap's data (ConfigMap binaryData
// included).
func readData(ctx context.Context, client kubernetes.Interface, kind, ns, name string) (map[string][]byte, error) {
	if kind == "Secret" {
		s, err := client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading Secret %s/%s: %w", ns, name, err)
		}
		return s.Data, nil
	}
	cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading ConfigMap %s/%s: %w", ns, name, err)
	}
	out := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		out[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		out[k] = v
	}
	return out, nil
}

// fieldValue answers a downward-API field path.
func fieldValue(pod *corev1.Pod, path, podIP, hostIP string) (string, error) {
	if k, ok := mapKey(path, "metadata.labels"); ok {
		return pod.Labels[k], nil
	}
	if k, ok := mapKey(path, "metadata.annotations"); ok {
		return pod.Annotations[k], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP", "status.podIPs":
		return podIP, nil
	case "status.hostIP", "status.hostIPs":
		return hostIP, nil
	}
	return "", fmt.Errorf("unsupported fieldPath %q", path)
}

func mapKey(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok {
		return "", false
	}
	k, ok := strings.CutSuffix(rest, "']")
	return k, ok
}

// formatMap renders labels or annotations like the kubelet: key="value" lines.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, strconv.Quote(m[k]))
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// expand replaces $(NAME) with the variable's value; $$ escapes a dollar and
// unknown references stay as written, like Kubernetes.
func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}
