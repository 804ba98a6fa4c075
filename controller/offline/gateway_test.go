package offline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/controller"
	"weir.dev/weir/controller/manifests"
	"weir.dev/weir/controller/translate"
)

func gatewayYAML(port, w1, w2 int) string {
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: weir}
spec: {controllerName: weir.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web}
spec:
  gatewayClassName: weir
  listeners: [{name: http, port: %d, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app}
spec:
  parentRefs: [{name: web}]
  rules: [{backendRefs: [{name: web, port: 80, weight: %d}, {name: other, port: 80, weight: %d}]}]
`, port, w1, w2)
}

// sockets is a ListenerPublisher that keeps the last sockets.
type sockets struct {
	lastTable
	mu   sync.Mutex
	last []controller.GatewaySocket
}

func (s *sockets) PublishListeners(ls []controller.GatewaySocket) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = ls
}

// describe is "port: table dump" of each socket.
func (s *sockets) describe() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, l := range s.last {
		fmt.Fprintf(&b, "port %d:\n%s", l.Port, l.Listener.Table.Dump())
	}
	return b.String()
}

// Offline, Gateway API objects come from the files too; each listener binds
// its own port, and edits (a new port, new weights) reach the listeners.
func TestOfflineServesGateways(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	write("base.yaml", base)
	write("gateway.yaml", gatewayYAML(8080, 80, 20))
	pub := &sockets{}
	o, err := New(dir, controller.Options{HoldOff: 10 * time.Millisecond, Gateway: &controller.GatewayOptions{},
		Translate: translate.Options{GatewayControllerName: translate.DefaultGatewayControllerName}}, pub, nil, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	has := func(s string) func() bool { return func() bool { return strings.Contains(pub.describe(), s) } }
	require.Eventually(t, has("port 8080:"), 10*time.Second, 10*time.Millisecond, "last: %s", pub.describe())
	assert.Contains(t, pub.describe(), "weighted 80 default/web:80")

	write("gateway.yaml", gatewayYAML(9090, 50, 50))
	// The file's Gateway and HTTPRoute reach the controller as separate
	// events, so a table with the new port and the old weights may be
	// published in between; what must hold is where it settles.
	settled := func() bool {
		d := pub.describe()
		return strings.Contains(d, "port 9090:") && strings.Contains(d, "weighted 50 default/web:80") &&
			!strings.Contains(d, "port 8080:")
	}
	require.Eventually(t, settled, 10*time.Second, 20*time.Millisecond, "a Gateway edit is a new generation")
}

// `weir translate` lints Gateway API objects too: each listener's table and
// the status Weir would write.
func TestLintPrintsGatewayListenersAndStatus(t *testing.T) {
	objs, err := manifests.Decode(strings.NewReader(base + "---\n" + gatewayYAML(8080, 80, 20)))
	require.NoError(t, err)
	res := Lint(objs, translate.Options{}, LintOptions{})
	assert.Contains(t, res.Gateway, "# Gateway default/web port 8080 (HTTP), listeners http\n")
	assert.Contains(t, res.Gateway, "weighted 80 default/web:80")
	assert.Contains(t, res.Gateway, "- kind: HTTPRoute\n  name: app\n  namespace: default\n")
	assert.Contains(t, res.Gateway, "controllerName: weir.dev/gateway-controller")
	assert.Empty(t, Lint(objs[:3], translate.Options{}, LintOptions{}).Gateway, "nothing without Gateway API objects")
}
