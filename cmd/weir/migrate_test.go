package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"weir.dev/weir/controller/migrate"
)

func migrateRun(stdin string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := migrateCommand(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

const honouredOnly = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: default
  annotations: {nginx.ingress.kubernetes.io/proxy-body-size: 8m}
spec:
  ingressClassName: nginx
  rules:
  - host: web.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}
`

func TestMigrateExitStatus(t *testing.T) {
	code, out, errOut := migrateRun(honouredOnly, "-f", "-")
	assert.Equal(t, lintClean, code, errOut)
	assert.Contains(t, out, "1 Ingress(es), 0 ConfigMap(s): 1 honoured, 0 honoured with a difference, 0 no-op, 0 not honoured")
	assert.Contains(t, out, `kubectl -n default patch ingress web --type=merge -p '{"spec":{"ingressClassName":"weir"}}'`)

	code, out, _ = migrateRun("", "-f", "../../controller/migrate/testdata/auth.yaml", "-o", "json")
	assert.Equal(t, lintProblems, code, "authentication Weir cannot enforce is not honoured")
	var r migrate.Report
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	assert.Positive(t, r.Summary.NotHonoured)

	for name, args := range map[string][]string{
		"missing file": {"-f", "/nonexistent.yaml"},
		"both inputs":  {"-f", "-", "--kubeconfig", "/nonexistent"},
		"bad output":   {"-f", "-", "-o", "xml"},
		"kubeconfig":   {"--kubeconfig", "/nonexistent"},
	} {
		code, _, _ := migrateRun("", args...)
		assert.Equal(t, lintUnreadable, code, name)
	}
}

func TestMigrateReadsAList(t *testing.T) {
	list, err := os.ReadFile("../../controller/migrate/testdata/cluster-list.yaml")
	require.NoError(t, err)
	_, out, _ := migrateRun(string(list), "-f", "-", "--class", "nginx")
	assert.Contains(t, out, "ConfigMap ingress-nginx/ingress-nginx-controller")
	assert.Contains(t, out, `"ingressClassName":"weir-edge"`)
}

func TestReadClusterOnlyReads(t *testing.T) {
	class := "nginx"
	client := fake.NewClientset(
		&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Spec: networkingv1.IngressSpec{IngressClassName: &class}},
		&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nginx"}, Spec: networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "ingress-nginx-controller", Namespace: "ingress-nginx",
			Labels: map[string]string{"app.kubernetes.io/name": "ingress-nginx"}}, Data: map[string]string{"use-gzip": "true"}},
	)
	in, err := readCluster(context.Background(), client, "")
	require.NoError(t, err)
	r := migrate.Analyze(in, migrate.Options{})
	require.Len(t, r.Ingresses, 1)
	require.Len(t, r.ConfigMaps, 1)
	assert.Equal(t, migrate.Honoured, r.ConfigMaps[0].Findings[0].Status, "use-gzip is read with --configmap")
	for _, a := range client.Actions() {
		assert.Contains(t, []string{"list", "get"}, a.GetVerb(), "migrate never writes to the cluster")
	}

	in, err = readCluster(context.Background(), client, "ingress-nginx/ingress-nginx-controller")
	require.NoError(t, err)
	assert.Len(t, in.ConfigMaps, 1)
	_, err = readCluster(context.Background(), client, "nope")
	assert.Error(t, err)
}
