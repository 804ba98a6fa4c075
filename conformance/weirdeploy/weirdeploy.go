// Package weirdeploy builds Weir from this repository and deploys it into a
// local cluster from what `kustomize build` makes of deploy/base or its
// Gateway API overlay (checked in by deploy/helm/test, which fails when they
// differ), the way a user applies the Kustomize base, with the image mapped
// to the freshly built binary. The end-to-end suite and
// `make demo` share it, together with small builders for echo-basic
// workloads.
package weirdeploy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"weir.dev/weir/conformance/localcluster"
)

// Namespace is the namespace deploy/base puts Weir in.
const Namespace = "weir-system"

// Selector selects Weir's Pods.
const Selector = "app.kubernetes.io/name=weir"

// RepoRoot is the repository root: the parent of the conformance module.
func RepoRoot(ctx context.Context) (string, error) {
	dir, err := localcluster.ModuleDir(ctx)
	if err != nil {
		return "", err
	}
	return filepath.Dir(dir), nil
}

// BuildWeir builds ./cmd/weir of the repository into out.
func BuildWeir(ctx context.Context, root, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/weir")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/weir: %v\n%s", err, b)
	}
	return nil
}

// Options adjust deploy/base for a test cluster.
type Options struct {
	// IngressOnly deploys deploy/base alone (the Gateway API off, without
	// its RBAC). Default: deploy/overlays/gateway-api, base and the Gateway
	// API component.
	IngressOnly bool
	// Replicas of the Deployment. Default: deploy/base's own count (2).
	Replicas int32
	// ExtraArgs are appended to Weir's arguments (a later flag wins).
	ExtraArgs []string
}

// Built is the path of `kustomize build` output of deploy/base (ingressOnly)
// or of deploy/overlays/gateway-api, kept by deploy/helm/test.
func Built(root string, ingressOnly bool) string {
	name := "gateway-api.golden.yaml"
	if ingressOnly {
		name = "base.golden.yaml"
	}
	return filepath.Join(root, "deploy", "helm", "test", "testdata", name)
}

// Deploy applies the built Kustomize base into Weir's namespace (the
// Deployment adjusted by o), waits for the Weir Pods to be Ready and
// returns them.
func Deploy(ctx context.Context, c *localcluster.Cluster, root string, o Options) ([]corev1.Pod, error) {
	b, err := os.ReadFile(Built(root, o.IngressOnly))
	if err != nil {
		return nil, err
	}
	objects, deployment, err := SplitDeployment(b)
	if err != nil {
		return nil, err
	}
	if err := c.ApplyYAML(ctx, objects, Namespace); err != nil {
		return nil, fmt.Errorf("applying %s: %w", Built(root, o.IngressOnly), err)
	}
	d, err := adjust(deployment, o)
	if err != nil {
		return nil, err
	}
	if _, err := c.Client.AppsV1().Deployments(Namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("creating Weir's Deployment: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	return c.WaitPodsReady(wctx, Namespace, Selector, int(*d.Spec.Replicas))
}

// SplitDeployment splits multi-document YAML into the one Deployment and
// every other object (namespaced ones first need their Namespace, which
// kustomize puts first).
func SplitDeployment(b []byte) (others, deployment []byte, err error) {
	var rest []string
	for _, doc := range strings.Split("\n"+string(b), "\n---\n") {
		var meta struct{ Kind string }
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			return nil, nil, fmt.Errorf("decoding YAML: %w", err)
		}
		switch {
		case meta.Kind == "Deployment" && deployment != nil:
			return nil, nil, fmt.Errorf("more than one Deployment")
		case meta.Kind == "Deployment":
			deployment = []byte(doc)
		case meta.Kind != "":
			rest = append(rest, doc)
		}
	}
	if deployment == nil {
		return nil, nil, fmt.Errorf("no Deployment")
	}
	return []byte(strings.Join(rest, "\n---\n")), deployment, nil
}

// adjust decodes the built Deployment and applies o to it.
func adjust(b []byte, o Options) (*appsv1.Deployment, error) {
	d := &appsv1.Deployment{}
	if err := yaml.UnmarshalStrict(b, d); err != nil {
		return nil, fmt.Errorf("decoding the Deployment: %w", err)
	}
	if d.Namespace != Namespace {
		return nil, fmt.Errorf("the Deployment is in namespace %q, not %s", d.Namespace, Namespace)
	}
	if o.Replicas > 0 {
		d.Spec.Replicas = &o.Replicas
	}
	if d.Spec.Replicas == nil {
		d.Spec.Replicas = ptr(int32(1)) // the API's default
	}
	ct := &d.Spec.Template.Spec.Containers[0]
	ct.Args = append(ct.Args, o.ExtraArgs...)
	return d, nil
}

// HTTPURL is the plain-HTTP address of a Weir Pod (deploy/base uses 8080).
func HTTPURL(p *corev1.Pod) string {
	return "http://" + p.Status.PodIP + ":8080"
}

// ServiceName is deploy/base's LoadBalancer Service in front of Weir.
const ServiceName = "weir"

// WaitAddress waits until the local cluster's load balancer has given
// deploy/base's Service its address and returns it: port 80 reaches the
// Weir Pods' plain-HTTP port, 443 their HTTPS port.
func WaitAddress(ctx context.Context, c *localcluster.Cluster) (string, error) {
	return WaitServiceAddress(ctx, c, Namespace, ServiceName)
}

// WaitServiceAddress waits until the local cluster's load balancer has given
// the LoadBalancer Service ns/name its address and returns it.
func WaitServiceAddress(ctx context.Context, c *localcluster.Cluster, ns, name string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		svc, err := c.Client.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err == nil && len(svc.Status.LoadBalancer.Ingress) > 0 && svc.Status.LoadBalancer.Ingress[0].IP != "" {
			return svc.Status.LoadBalancer.Ingress[0].IP, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for Service %s/%s's load-balancer address (last error: %v): %w", ns, name, err, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Echo is an echo-basic Deployment: replicas Pods labelled app and version,
// answering on port 3000 (and 3001), Ready when /health answers.
func Echo(ns, name, app, version string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": app, "version": version}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr(int64(5)),
					Containers: []corev1.Container{{
						Name:  "echo",
						Image: "gcr.io/k8s-staging-gateway-api/echo-basic:v20240412-v1.0.0-394-g40c666fd",
						Env: []corev1.EnvVar{
							fieldEnv("POD_NAME", "metadata.name"),
							fieldEnv("NAMESPACE", "metadata.namespace"),
						},
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 3000}, {Name: "alt", ContainerPort: 3001}},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromInt32(3000)}},
							PeriodSeconds: 1,
						},
					}},
				},
			},
		},
	}
}

func fieldEnv(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
}

func ptr[T any](v T) *T { return &v }

// PodNames returns the names of pods, for messages.
func PodNames(pods []corev1.Pod) string {
	names := make([]string, len(pods))
	for i, p := range pods {
		names[i] = p.Name
	}
	return strings.Join(names, ",")
}
