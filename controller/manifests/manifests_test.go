package manifests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"weir.dev/weir/controller/translate"
)

const docs = `# a comment-only document is skipped
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {ports: [{port: 80}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
---
apiVersion: example.com/v1
kind: Bucket
metadata: {name: unknown-kind}
---
apiVersion: v1
kind: List
items:
- apiVersion: networking.k8s.io/v1
  kind: Ingress
  metadata: {name: a, namespace: team}
- apiVersion: networking.k8s.io/v1
  kind: IngressClass
  metadata: {name: weir}
`

func TestDecodeSkipsWhatWeirDoesNotReadAndFlattensLists(t *testing.T) {
	objs, err := Decode(strings.NewReader(docs))
	require.NoError(t, err)
	in := Inputs(objs, translate.Options{})
	require.Len(t, in.Services, 1)
	assert.Equal(t, "default", in.Services[0].Namespace, "no namespace means default, as with kubectl")
	require.Len(t, in.Ingresses, 1)
	assert.Equal(t, "team", in.Ingresses[0].Namespace)
	require.Len(t, in.IngressClasses, 1)
	assert.Empty(t, in.IngressClasses[0].Namespace, "cluster-scoped objects stay without namespace")
	var deployments int
	for _, o := range objs {
		switch o.(type) {
		case *corev1.Service, *networkingv1.Ingress, *networkingv1.IngressClass:
		default:
			deployments++
		}
	}
	assert.Equal(t, 1, deployments, "a known kind Weir does not read is decoded and ignored by Inputs")
}

func TestDecodeNamesTheBadDocument(t *testing.T) {
	_, err := Decode(strings.NewReader("apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nspec: [not, a, map]\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "document 2")
}

func TestLoadReadsADirectoryInNameOrder(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	write("b.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: second}\n")
	write("a.yml", "apiVersion: v1\nkind: Service\nmetadata: {name: first}\n")
	write("notes.txt", "not read")
	objs, err := Load(dir)
	require.NoError(t, err)
	require.Len(t, objs, 2)
	assert.Equal(t, "first", objs[0].(*corev1.Service).Name)
	assert.Equal(t, "second", objs[1].(*corev1.Service).Name)

	write("c.yaml", "kind: [")
	_, err = Load(dir)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "c.yaml")
	_, err = Load(filepath.Join(dir, "missing"))
	assert.Error(t, err)
}

const gatewayDocs = `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: weir}
spec: {controllerName: weir.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: infra}
spec:
  gatewayClassName: weir
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app}
spec:
  parentRefs: [{name: web, namespace: infra}]
  rules: [{backendRefs: [{name: app, port: 80}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: rpc, namespace: apps}
spec:
  parentRefs: [{name: web, namespace: infra}]
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: from-infra, namespace: apps}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: default}]
  to: [{group: "", kind: Service}]
---
apiVersion: v1
kind: Namespace
metadata: {name: apps, labels: {team: a}}
`

// Gateway API objects are read too, v1beta1 as v1, and the namespaces the
// objects use exist as they would in a cluster.
func TestGatewayAPIObjects(t *testing.T) {
	objs, err := Decode(strings.NewReader(gatewayDocs))
	require.NoError(t, err)
	in := Inputs(objs, translate.Options{})
	require.Len(t, in.GatewayClasses, 1)
	require.Len(t, in.Gateways, 1)
	require.Len(t, in.HTTPRoutes, 1)
	assert.Equal(t, "default", in.HTTPRoutes[0].Namespace)
	assert.Equal(t, "web", string(in.HTTPRoutes[0].Spec.ParentRefs[0].Name))
	require.Len(t, in.GRPCRoutes, 1)
	require.Len(t, in.ReferenceGrants, 1, "v1beta1 ReferenceGrant read as v1")
	assert.Equal(t, "Service", string(in.ReferenceGrants[0].Spec.To[0].Kind))
	var names []string
	for _, ns := range in.Namespaces {
		names = append(names, ns.Name+":"+ns.Labels["team"]+ns.Labels[corev1.LabelMetadataName])
	}
	assert.ElementsMatch(t, []string{"apps:a", "default:default", "infra:infra"}, names,
		"declared namespaces kept as written; the others added with their name label")
}
