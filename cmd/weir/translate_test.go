package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTranslateCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	code := translateCommand([]string{"-f", "../../deploy/examples/demo.yaml"}, &out, &errOut)
	assert.Equal(t, 0, code, errOut.String())
	assert.Contains(t, out.String(), "canary default/app-v2:80 header=X-Canary cookie=canary weight=20/100")

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte(`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: bad, namespace: default, annotations: {kubernetes.io/ingress.class: weir}}
spec:
  rules:
  - host: a.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: missing, port: {number: 80}}}}]}
`), 0o600))
	out.Reset()
	errOut.Reset()
	code = translateCommand([]string{"-f", bad}, &out, &errOut)
	assert.Equal(t, 1, code, "problems fail the lint")
	assert.Contains(t, errOut.String(), "ServiceNotFound")

	assert.Equal(t, 2, translateCommand(nil, &out, &errOut), "usage error")
}
