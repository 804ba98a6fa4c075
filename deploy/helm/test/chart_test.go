// Package test renders Weir's Helm chart (deploy/helm/weir) with Helm's own
// engine and checks the objects. It is a module of its own so that neither
// Weir nor its conformance suite depends on Helm.
package test

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// rendered are the chart's objects by kind, each as its YAML document.
type rendered map[string][]string

// renderFiles renders the chart as `helm template weir -n weir-system` would.
func renderFiles(t *testing.T, values map[string]any) (map[string]string, error) {
	t.Helper()
	return renderRelease(t, "weir", "weir-system", values)
}

// renderRelease renders the chart as `helm template release -n ns` would.
func renderRelease(t *testing.T, release, ns string, values map[string]any) (map[string]string, error) {
	t.Helper()
	ch, err := loader.Load("../weir")
	require.NoError(t, err)
	vals, err := chartutil.ToRenderValues(ch, values,
		chartutil.ReleaseOptions{Name: release, Namespace: ns, IsInstall: true}, chartutil.DefaultCapabilities)
	require.NoError(t, err)
	return engine.Render(ch, vals)
}

func render(t *testing.T, values map[string]any) rendered {
	t.Helper()
	files, err := renderFiles(t, values)
	require.NoError(t, err)
	out := rendered{}
	for name, content := range files {
		if strings.HasSuffix(name, "NOTES.txt") {
			continue
		}
		for _, doc := range splitDocs(content) {
			var meta struct{ Kind string }
			require.NoError(t, yaml.Unmarshal([]byte(doc), &meta), name)
			out[meta.Kind] = append(out[meta.Kind], doc)
		}
	}
	return out
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

func splitDocs(s string) []string {
	var out []string
	for _, d := range docSeparator.Split(s, -1) {
		if strings.TrimSpace(stripComments(d)) != "" {
			out = append(out, d)
		}
	}
	return out
}

func stripComments(d string) string {
	var b strings.Builder
	for _, l := range strings.Split(d, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func (r rendered) kinds() []string {
	var out []string
	for k, docs := range r {
		for range docs {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// one decodes the only object of kind strictly: a misspelt field in a
// template fails the test.
func one[T any](t *testing.T, r rendered, kind string) *T {
	t.Helper()
	require.Len(t, r[kind], 1, kind)
	v := new(T)
	require.NoError(t, yaml.UnmarshalStrict([]byte(r[kind][0]), v), kind)
	return v
}

// clusterRoleRules are the rules of the ClusterRole in a file of deploy/.
func clusterRoleRules(t *testing.T, path string) []rbacv1.PolicyRule {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, doc := range splitDocs(string(b)) {
		var cr rbacv1.ClusterRole
		require.NoError(t, yaml.Unmarshal([]byte(doc), &cr))
		if cr.Kind == "ClusterRole" {
			return cr.Rules
		}
	}
	t.Fatalf("%s has no ClusterRole", path)
	return nil
}

// baseRules are deploy/base's ClusterRole rules, which the chart grants.
func baseRules(t *testing.T) []rbacv1.PolicyRule {
	return clusterRoleRules(t, "../../base/rbac.yaml")
}

// gatewayRules are what deploy/components/gateway-api adds, as the chart
// does with gatewayAPI.enabled.
func gatewayRules(t *testing.T) []rbacv1.PolicyRule {
	return clusterRoleRules(t, "../../components/gateway-api/rbac.yaml")
}

// flagInREADME is true when Weir's README documents the flag of arg.
func flagInREADME(t *testing.T, arg string) bool {
	t.Helper()
	readme, err := os.ReadFile("../../../README.md")
	require.NoError(t, err)
	name, _, _ := strings.Cut(arg, "=")
	return strings.Contains(string(readme), "| `"+name+"` |")
}

func TestDefaults(t *testing.T) {
	r := render(t, nil)
	assert.Equal(t, []string{"ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "IngressClass", "PodDisruptionBudget",
		"Role", "RoleBinding", "Service", "ServiceAccount"}, r.kinds())

	cr := one[rbacv1.ClusterRole](t, r, "ClusterRole")
	assert.Equal(t, baseRules(t), cr.Rules, "the chart grants deploy/base's rules, Gateway API only when enabled")
	role := one[rbacv1.Role](t, r, "Role")
	assert.Equal(t, []string{"weir-leader"}, role.Rules[1].ResourceNames)
	assert.Len(t, role.Rules, 2, "the Lease only: ConfigMaps are read under the ClusterRole")

	d := one[appsv1.Deployment](t, r, "Deployment")
	assert.Equal(t, int32(2), *d.Spec.Replicas)
	c := d.Spec.Template.Spec.Containers[0]
	assert.Equal(t, "ghcr.io/weir-dev/weir:0.1.0", c.Image)
	assert.Equal(t, []string{"--http-port=8080", "--https-port=8443", "--metrics-port=10254", "--ingress-class=weir",
		"--controller-class=weir.dev/ingress-controller", "--election-id=weir-leader", "--configmap=weir-system/weir", "--publish-service=$(POD_NAMESPACE)/weir",
		"--enable-gateway-api=false"}, c.Args)
	assert.Equal(t, "WEIR_MEMORY_LIMIT", c.Env[3].Name)
	assert.Equal(t, "limits.memory", c.Env[3].ValueFrom.ResourceFieldRef.Resource)
	for _, a := range c.Args {
		assert.True(t, flagInREADME(t, a), "%s is not a flag of Weir", a)
	}
	assert.Equal(t, "POD_NAME", c.Env[0].Name)
	assert.Equal(t, "metadata.name", c.Env[0].ValueFrom.FieldRef.FieldPath)
	require.Len(t, d.Spec.Template.Spec.TopologySpreadConstraints, 1)
	assert.Equal(t, "kubernetes.io/hostname", d.Spec.Template.Spec.TopologySpreadConstraints[0].TopologyKey)
	assert.Equal(t, d.Spec.Selector.MatchLabels, d.Spec.Template.Labels)

	svc := one[corev1.Service](t, r, "Service")
	assert.Equal(t, corev1.ServiceTypeLoadBalancer, svc.Spec.Type)
	assert.Equal(t, d.Spec.Selector.MatchLabels, svc.Spec.Selector)
	ic := one[networkingv1.IngressClass](t, r, "IngressClass")
	assert.Equal(t, "weir.dev/ingress-controller", ic.Spec.Controller)
	assert.Equal(t, "false", ic.Annotations["ingressclass.kubernetes.io/is-default-class"])
	pdb := one[policyv1.PodDisruptionBudget](t, r, "PodDisruptionBudget")
	assert.Equal(t, "1", pdb.Spec.MinAvailable.String())
}

func TestValuesShapedLikeIngressNginx(t *testing.T) {
	r := render(t, map[string]any{
		"controller": map[string]any{
			"replicaCount":         3,
			"electionID":           "edge-leader",
			"watchNamespace":       "shop",
			"extraArgs":            map[string]any{"trusted-proxies": "10.0.0.0/8", "shutdown-delay": "10s"},
			"priorityClassName":    "system-cluster-critical",
			"ingressClassResource": map[string]any{"name": "edge", "default": true},
			"service": map[string]any{"type": "NodePort",
				"annotations": map[string]any{"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}},
			"metrics":             map[string]any{"serviceMonitor": map[string]any{"enabled": true, "additionalLabels": map[string]any{"release": "prom"}}},
			"podDisruptionBudget": map[string]any{"maxUnavailable": 1},
			"autoscaling":         map[string]any{"enabled": true, "minReplicas": 3, "maxReplicas": 12},
			"affinity": map[string]any{"nodeAffinity": map[string]any{"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{
				"nodeSelectorTerms": []any{map[string]any{"matchExpressions": []any{
					map[string]any{"key": "node-role", "operator": "In", "values": []any{"edge"}}}}}}}},
			"topologySpreadConstraints": []any{map[string]any{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
				"whenUnsatisfiable": "DoNotSchedule", "labelSelector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "weir"}}}},
		},
		"gatewayAPI": map[string]any{"enabled": true},
	})
	assert.Equal(t, []string{"ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "HorizontalPodAutoscaler", "IngressClass",
		"PodDisruptionBudget", "Role", "RoleBinding", "Service", "Service", "ServiceAccount", "ServiceMonitor"}, r.kinds())

	assert.Equal(t, append(baseRules(t), gatewayRules(t)...), one[rbacv1.ClusterRole](t, r, "ClusterRole").Rules,
		"deploy/base's rules and deploy/components/gateway-api's")
	assert.Equal(t, []string{"edge-leader"}, one[rbacv1.Role](t, r, "Role").Rules[1].ResourceNames, "the Lease rule follows the election ID")
	assert.Equal(t, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"create", "update", "delete"}},
		one[rbacv1.Role](t, r, "Role").Rules[2], "the Gateways' Services, in the release's namespace only")

	d := one[appsv1.Deployment](t, r, "Deployment")
	assert.Nil(t, d.Spec.Replicas, "the HPA owns the replica count")
	spec := d.Spec.Template.Spec
	assert.Contains(t, spec.Containers[0].Args, "--gateway-pod-selector=app.kubernetes.io/name=weir,app.kubernetes.io/instance=weir,app.kubernetes.io/component=controller",
		"the Gateways' Services select this release's Pods")
	assert.Equal(t, "system-cluster-critical", spec.PriorityClassName)
	assert.NotNil(t, spec.Affinity.NodeAffinity)
	assert.Equal(t, "topology.kubernetes.io/zone", spec.TopologySpreadConstraints[0].TopologyKey)
	args := spec.Containers[0].Args
	for _, want := range []string{"--election-id=edge-leader", "--watch-namespace=shop", "--shutdown-delay=10s", "--trusted-proxies=10.0.0.0/8"} {
		assert.Contains(t, args, want)
	}
	for _, a := range args {
		assert.True(t, flagInREADME(t, a), "%s is not a flag of Weir", a)
	}

	hpa := one[autoscalingv2.HorizontalPodAutoscaler](t, r, "HorizontalPodAutoscaler")
	assert.Equal(t, int32(3), *hpa.Spec.MinReplicas)
	assert.Equal(t, int32(12), hpa.Spec.MaxReplicas)
	assert.Equal(t, d.Name, hpa.Spec.ScaleTargetRef.Name)
	ic := one[networkingv1.IngressClass](t, r, "IngressClass")
	assert.Equal(t, "edge", ic.Name)
	assert.Equal(t, "true", ic.Annotations["ingressclass.kubernetes.io/is-default-class"])
	pdb := one[policyv1.PodDisruptionBudget](t, r, "PodDisruptionBudget")
	assert.Nil(t, pdb.Spec.MinAvailable)
	assert.Equal(t, "1", pdb.Spec.MaxUnavailable.String())

	var services []corev1.Service
	for _, doc := range r["Service"] {
		var s corev1.Service
		require.NoError(t, yaml.UnmarshalStrict([]byte(doc), &s))
		services = append(services, s)
	}
	sort.Slice(services, func(i, j int) bool { return services[i].Name < services[j].Name })
	assert.Equal(t, corev1.ServiceTypeNodePort, services[0].Spec.Type)
	assert.Equal(t, "nlb", services[0].Annotations["service.beta.kubernetes.io/aws-load-balancer-type"])
	assert.Equal(t, "weir-metrics", services[1].Name)

	var sm struct {
		Metadata struct{ Labels map[string]string }
		Spec     struct {
			Selector  struct{ MatchLabels map[string]string }
			Endpoints []struct{ Port string }
		}
	}
	require.NoError(t, yaml.Unmarshal([]byte(r["ServiceMonitor"][0]), &sm))
	assert.Equal(t, "prom", sm.Metadata.Labels["release"])
	assert.Equal(t, "metrics", sm.Spec.Endpoints[0].Port)
	assert.Equal(t, services[1].Spec.Selector, sm.Spec.Selector.MatchLabels)
}

// TestConfigIsTheGlobalConfigMap: controller.config, as in ingress-nginx's
// chart, becomes the ConfigMap Weir reads (--configmap), its values strings.
func TestConfigIsTheGlobalConfigMap(t *testing.T) {
	r := render(t, map[string]any{"controller": map[string]any{"config": map[string]any{
		"use-forwarded-headers": true, "proxy-body-size": "8m", "worker-processes": 4}}})
	cm := one[corev1.ConfigMap](t, r, "ConfigMap")
	assert.Equal(t, "weir", cm.Name)
	assert.Equal(t, map[string]string{"use-forwarded-headers": "true", "proxy-body-size": "8m", "worker-processes": "4"}, cm.Data)
	d := one[appsv1.Deployment](t, r, "Deployment")
	assert.Contains(t, d.Spec.Template.Spec.Containers[0].Args, "--configmap=weir-system/"+cm.Name)
	assert.Contains(t, one[rbacv1.ClusterRole](t, r, "ClusterRole").Rules[0].Resources, "configmaps", "read under the ClusterRole, as the ConfigMaps of headers")
}

// TestHelmLint runs `helm lint`'s rules (chart metadata, values, templates
// rendered against the Kubernetes schema conventions): warnings fail too.
func TestHelmLint(t *testing.T) {
	for name, values := range map[string]map[string]any{
		"defaults": nil,
		"everything on": {"controller": map[string]any{"autoscaling": map[string]any{"enabled": true},
			"metrics": map[string]any{"serviceMonitor": map[string]any{"enabled": true}}}, "gatewayAPI": map[string]any{"enabled": true}},
	} {
		l := lint.All("../weir", values, "weir-system", false)
		for _, m := range l.Messages {
			if m.Severity >= support.WarningSev {
				t.Errorf("%s: %s", name, m)
			}
		}
	}
}

// TestTCPServices: tcp fills the TCP services ConfigMap (ingress-nginx's
// format), names it in --tcp-services-configmap and opens a container and
// Service port per entry; udp likewise.
func TestTCPServices(t *testing.T) {
	r := render(t, map[string]any{"tcp": map[string]any{"5432": "db/postgres:5432", "6379": "cache/redis:redis:PROXY"}})
	require.Len(t, r["ConfigMap"], 2)
	var tcp corev1.ConfigMap
	for _, doc := range r["ConfigMap"] {
		var cm corev1.ConfigMap
		require.NoError(t, yaml.UnmarshalStrict([]byte(doc), &cm))
		if cm.Name == "weir-tcp" {
			tcp = cm
		}
	}
	assert.Equal(t, map[string]string{"5432": "db/postgres:5432", "6379": "cache/redis:redis:PROXY"}, tcp.Data)
	d := one[appsv1.Deployment](t, r, "Deployment")
	ctr := d.Spec.Template.Spec.Containers[0]
	assert.Contains(t, ctr.Args, "--tcp-services-configmap=weir-system/weir-tcp")
	assert.Contains(t, ctr.Ports, corev1.ContainerPort{Name: "5432-tcp", ContainerPort: 5432, Protocol: corev1.ProtocolTCP})
	svc := one[corev1.Service](t, r, "Service")
	assert.Contains(t, svc.Spec.Ports, corev1.ServicePort{Name: "6379-tcp", Port: 6379, TargetPort: intstr.FromString("6379-tcp"),
		Protocol: corev1.ProtocolTCP})

	d = one[appsv1.Deployment](t, render(t, nil), "Deployment")
	for _, a := range d.Spec.Template.Spec.Containers[0].Args {
		assert.NotContains(t, a, "services-configmap", "no TCP or UDP services without tcp and udp")
	}

	r = render(t, map[string]any{"udp": map[string]any{"5353": "kube-system/dns:53"}})
	d = one[appsv1.Deployment](t, r, "Deployment")
	ctr = d.Spec.Template.Spec.Containers[0]
	assert.Contains(t, ctr.Args, "--udp-services-configmap=weir-system/weir-udp")
	assert.Contains(t, ctr.Ports, corev1.ContainerPort{Name: "5353-udp", ContainerPort: 5353, Protocol: corev1.ProtocolUDP})
	svc = one[corev1.Service](t, r, "Service")
	assert.Contains(t, svc.Spec.Ports, corev1.ServicePort{Name: "5353-udp", Port: 5353, TargetPort: intstr.FromString("5353-udp"),
		Protocol: corev1.ProtocolUDP})
}
