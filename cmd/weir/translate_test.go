package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func translateRun(stdin string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := translateCommand(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// appIngress is an application's Ingress as it sits in its repository: no
// IngressClass object, no Service (deployed by another chart), no Secret.
const appIngress = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: default}
spec:
  ingressClassName: weir
  tls: [{hosts: [shop.example.com], secretName: shop-tls}]
  rules:
  - host: shop.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: shop, port: {number: 80}}}}]}
`

const badIngress = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: bad
  namespace: default
  annotations: {kubernetes.io/ingress.class: weir, nginx.ingress.kubernetes.io/proxy-read-timeout: 60s}
spec:
  rules:
  - host: a.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
`

func TestTranslateLintsApplicationManifests(t *testing.T) {
	code, out, errOut := translateRun("", "-f", "../../deploy/examples/demo.yaml")
	assert.Equal(t, lintClean, code, errOut)
	assert.Contains(t, out, "canary default/app-v2:80 header=X-Canary cookie=canary weight=20/100")

	// Missing Services, endpoints and Secrets are runtime state, not
	// problems; the Ingress is Weir's without an IngressClass in the file.
	code, out, errOut = translateRun(appIngress, "-f", "-")
	assert.Equal(t, lintClean, code, errOut)
	assert.Contains(t, out, "host shop.example.com")
}

func TestTranslateProblemsAndSeveralFiles(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(badIngress), 0o600))
	code, out, errOut := translateRun(appIngress, "-f", "-", "-f", bad)
	assert.Equal(t, lintProblems, code, "configuration problems fail the lint")
	assert.Contains(t, out, "host shop.example.com")
	assert.Contains(t, errOut, "Warning Ingress default/bad metadata.annotations[nginx.ingress.kubernetes.io/proxy-read-timeout]: InvalidAnnotationValue")

	code, out, _ = translateRun("", "-f", bad, "-o", "json")
	assert.Equal(t, lintProblems, code)
	var res lintJSON
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Len(t, res.Problems, 1)
	assert.Equal(t, problemJSON{Kind: "Ingress", Namespace: "default", Name: "bad",
		Field: "metadata.annotations[nginx.ingress.kubernetes.io/proxy-read-timeout]", Reason: "InvalidAnnotationValue",
		Severity: "Warning", Message: res.Problems[0].Message}, res.Problems[0])
}

func TestTranslateClasses(t *testing.T) {
	nginx := strings.ReplaceAll(appIngress, "ingressClassName: weir", "ingressClassName: nginx")
	code, out, errOut := translateRun(nginx, "-f", "-")
	assert.Equal(t, lintClean, code)
	assert.NotContains(t, out, "shop.example.com")
	assert.Contains(t, errOut, "skipped, not of class weir: Ingress default/shop (--all lints every Ingress)")

	_, out, _ = translateRun(nginx, "-f", "-", "--ingress-class", "nginx")
	assert.Contains(t, out, "host shop.example.com")
	_, out, _ = translateRun(nginx, "-f", "-", "--all")
	assert.Contains(t, out, "host shop.example.com")
}

func TestTranslateUnreadable(t *testing.T) {
	for name, args := range map[string][]string{
		"no -f":        nil,
		"missing file": {"-f", "/nonexistent/x.yaml"},
		"bad output":   {"-f", "-", "-o", "xml"},
		"stray":        {"-f", "-", "extra"},
		"not YAML":     {"-f", "-"},
		"unknown flag": {"--nope"},
	} {
		stdin := ""
		if name == "not YAML" {
			stdin = "kind: [unclosed"
		}
		code, _, _ := translateRun(stdin, args...)
		assert.Equal(t, lintUnreadable, code, name)
	}
}
