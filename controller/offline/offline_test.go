package offline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/controller"
	"weir.dev/weir/controller/translate"
)

const base = `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: weir}
spec: {controller: weir.dev/ingress-controller}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080}]
endpoints: [{addresses: ["127.0.0.1"]}]
`

func ingressYAML(host string) string {
	return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  ingressClassName: weir
  rules:
  - host: ` + host + `
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
`
}

type lastTable struct {
	mu   sync.Mutex
	dump string
}

func (l *lastTable) Publish(res *translate.Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dump = res.Table.Dump()
}

func (l *lastTable) get() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.dump
}

func TestOfflineFollowsFileEdits(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	write("base.yaml", base)
	write("ingress.yaml", ingressYAML("a.test"))
	pub := &lastTable{}
	o, err := New(dir, controller.Options{HoldOff: 10 * time.Millisecond}, pub, nil, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	has := func(s string) func() bool { return func() bool { return strings.Contains(pub.get(), s) } }
	require.Eventually(t, o.Controller().Ready, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, has("host a.test"), 10*time.Second, 10*time.Millisecond)
	assert.Contains(t, pub.get(), "endpoint 127.0.0.1:8080", "loopback endpoints are fine offline")

	write("ingress.yaml", ingressYAML("b.test"))
	require.Eventually(t, has("host b.test"), 10*time.Second, 20*time.Millisecond, "an edit is applied as an update")
	assert.NotContains(t, pub.get(), "host a.test")

	write("ingress.yaml", "{{ not yaml")
	time.Sleep(2 * PollInterval)
	assert.Contains(t, pub.get(), "host b.test", "a file that does not load keeps the previous objects")

	require.NoError(t, os.Remove(filepath.Join(dir, "ingress.yaml")))
	require.Eventually(t, func() bool { return !has("host b.test")() }, 10*time.Second, 20*time.Millisecond, "a removed file deletes its objects")
}
