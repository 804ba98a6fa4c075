package controller

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"weir.dev/weir/controller/globalconfig"
)

// An invalid and an unknown key are Warning Events on the ConfigMap, once
// each; the valid keys apply.
func TestConfigMapProblemsAreEventsOnIt(t *testing.T) {
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "weir", Namespace: "ingress"},
		Data: map[string]string{"proxy-body-size": "8m", "hsts": "maybe", "proxy-bodysize": "1m"}}
	client, rec, c := start(t, Options{Events: true, ConfigMap: "ingress/weir"}, class(), service("web"), slice("web", "10.0.0.1"),
		ingress("web", "a.test", "web", nil), cm)
	dumpHas(t, rec, "max-body 8388608")
	assert.NotNil(t, c.StartConfig())
	reasons := func() map[string]int {
		evs, err := client.CoreV1().Events("ingress").List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		m := map[string]int{}
		for _, e := range evs.Items {
			if e.InvolvedObject.Kind == "ConfigMap" && e.InvolvedObject.Name == "weir" && e.Type == corev1.EventTypeWarning {
				m[e.Reason] += int(e.Count)
			}
		}
		return m
	}
	want := map[string]int{globalconfig.ReasonInvalidValue: 1, globalconfig.ReasonUnknownKey: 1}
	require.Eventually(t, func() bool { return assert.ObjectsAreEqual(want, reasons()) }, 10*time.Second, 10*time.Millisecond)

	_, err := client.NetworkingV1().Ingresses("default").Create(ctx, ingress("other", "b.test", "web", nil), metav1.CreateOptions{})
	require.NoError(t, err)
	dumpHas(t, rec, "host b.test")
	assert.Equal(t, want, reasons(), "an unrelated rebuild repeats no Event")
}

func TestConfigMapFlagNeedsNamespaceAndName(t *testing.T) {
	_, err := newGlobalState(nil, "weir", nil)
	assert.Error(t, err)
}
