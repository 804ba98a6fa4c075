package offline

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"k8s.io/apimachinery/pkg/runtime"

	"weir.dev/weir/controller/manifests"
	"weir.dev/weir/controller/translate"
)

// appManifests are an application's manifests as a CI pipeline sees them:
// no IngressClass, no EndpointSlices, a TLS Secret made by cert-manager in
// the cluster, one Ingress of another class.
const appManifests = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop}
spec:
  ingressClassName: weir
  tls: [{hosts: [shop.example.com], secretName: shop-tls}]
  rules:
  - host: shop.example.com
    http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
      - {path: /api, pathType: Prefix, backend: {service: {name: api, port: {number: 8080}}}}
      - {path: /admin, pathType: Prefix, backend: {service: {name: web, port: {name: admin}}}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: legacy
  namespace: shop
  annotations: {kubernetes.io/ingress.class: weir, nginx.ingress.kubernetes.io/proxy-read-timeout: 60s}
spec:
  rules:
  - host: legacy.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: other, namespace: shop}
spec:
  ingressClassName: nginx
  rules:
  - host: other.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
`

func decode(t *testing.T, s string) []runtime.Object {
	t.Helper()
	objs, err := manifests.Decode(strings.NewReader(s))
	require.NoError(t, err)
	return objs
}

func reasons(ps []translate.Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Object.Name+" "+p.Field+" "+p.Reason)
	}
	return out
}

func TestLintTreatsTheClassAsWeirsAndKeepsOnlyConfigurationProblems(t *testing.T) {
	res := Lint(decode(t, appManifests), translate.Options{}, LintOptions{})
	assert.Contains(t, res.Table, "host shop.example.com")
	assert.Contains(t, res.Table, "host legacy.example.com")
	assert.NotContains(t, res.Table, "other.example.com")
	// The missing Service "api", the missing endpoints and the Secret made in
	// the cluster are runtime state; a port the Service does not have and an
	// invalid timeout are configuration.
	assert.Equal(t, []string{
		"legacy metadata.annotations[nginx.ingress.kubernetes.io/proxy-read-timeout] InvalidAnnotationValue",
		"web spec.rules[0].http.paths[2].backend.service ServicePortNotFound",
	}, reasons(res.Problems))
	assert.Equal(t, []translate.ObjectRef{{Kind: "Ingress", Namespace: "shop", Name: "other"}}, res.Ignored)
}

func TestLintAllTakesEveryIngress(t *testing.T) {
	res := Lint(decode(t, appManifests), translate.Options{}, LintOptions{All: true})
	assert.Contains(t, res.Table, "host other.example.com")
	assert.Empty(t, res.Ignored)
}

func TestLintUsesTheFilesIngressClass(t *testing.T) {
	// An IngressClass "weir" of another controller in the files wins: its
	// Ingresses are not Weir's.
	objs := decode(t, appManifests+`---
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: weir}
spec: {controller: example.com/other}
`)
	res := Lint(objs, translate.Options{}, LintOptions{})
	assert.NotContains(t, res.Table, "host shop.example.com")
	assert.Len(t, res.Ignored, 2)
}

func TestLintKeepsAnInvalidSecretOfTheFiles(t *testing.T) {
	objs := decode(t, appManifests+`---
apiVersion: v1
kind: Secret
metadata: {name: shop-tls, namespace: shop}
type: kubernetes.io/tls
data: {tls.crt: bm90IGEgY2VydA==, tls.key: bm90IGEga2V5}
`)
	res := Lint(objs, translate.Options{}, LintOptions{})
	assert.Contains(t, reasons(res.Problems), "web spec.tls[0].secretName InvalidTLSSecret")
}

func TestLintBasicAuthSecret(t *testing.T) {
	ing := `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: admin
  namespace: shop
  annotations: {nginx.ingress.kubernetes.io/auth-type: basic, nginx.ingress.kubernetes.io/auth-secret: admin-users}
spec:
  ingressClassName: weir
  rules:
  - host: admin.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
`
	res := Lint(decode(t, ing), translate.Options{}, LintOptions{})
	assert.Empty(t, res.Problems, "a Secret made in the cluster is runtime state")

	res = Lint(decode(t, ing+`---
apiVersion: v1
kind: Secret
metadata: {name: admin-users, namespace: shop}
data: {users: YWRtaW46eA==}
`), translate.Options{}, LintOptions{})
	assert.Contains(t, reasons(res.Problems), "admin metadata.annotations[nginx.ingress.kubernetes.io/auth-secret] InvalidAuthSecret",
		"a Secret in the files without its key is a configuration problem")
}
