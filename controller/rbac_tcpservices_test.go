package controller

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// builtTCPServices is what `kustomize build deploy/overlays/tcp-services`
// applies (kept equal to it by deploy/helm/test).
const builtTCPServices = "../deploy/helm/test/testdata/tcp-services.golden.yaml"

// TestTCPServicesRBACIsExactlyWhatWeirUses runs the controller with
// --tcp-services-configmap as deploy/components/tcp-services sets it,
// against the built overlay's rules: no request is denied (the ClusterRole
// lets Weir read ConfigMaps; the component adds no rule).
func TestTCPServicesRBACIsExactlyWhatWeirUses(t *testing.T) {
	const ns = "weir-system"
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "weir-tcp-services", Namespace: ns},
		Data: map[string]string{"9000": "default/web:80"}}
	client := fake.NewClientset(class(), service("web"), slice("web", "10.0.0.1"), cm)
	z := &authorizer{rules: readRBAC(t, builtTCPServices), used: map[string]bool{}}
	z.install(client)
	rec := &recorder{}
	c, err := New(client, Options{HoldOff: 10 * time.Millisecond, Events: true, TCPServices: ns + "/weir-tcp-services"}, rec, nil, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	require.Eventually(t, func() bool { return len(lastTCP(rec)) == 1 }, 30*time.Second, 20*time.Millisecond)
	z.mu.Lock()
	defer z.mu.Unlock()
	assert.Empty(t, z.denied, "the tcp-services overlay's RBAC denies requests Weir makes")
}
