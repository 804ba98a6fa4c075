package controller

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"weir.dev/weir/controller/translate"
	"weir.dev/weir/proxy/stream"
)

func lastTCP(rec *recorder) []stream.Service {
	if res := rec.last(); res != nil {
		return res.TCPServices
	}
	return nil
}

// The TCP services ConfigMap is watched live: its entries are published
// with their endpoints, an edit and an endpoint change are applied without
// a restart, and an invalid entry is a Warning Event on the ConfigMap while
// the valid ones stay.
func TestTCPServicesConfigMapIsWatched(t *testing.T) {
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "tcp", Namespace: "ingress"},
		Data: map[string]string{"9000": "default/db:80", "9001": "default/db"}}
	udp := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "udp", Namespace: "ingress"},
		Data: map[string]string{"5353": "default/db:http"}}
	client, rec, _ := start(t, Options{Events: true, TCPServices: "ingress/tcp", UDPServices: "ingress/udp"},
		class(), service("db"), slice("db", "10.0.0.1"), cm, udp)
	require.Eventually(t, func() bool {
		s := lastTCP(rec)
		return len(s) == 1 && s[0].Port == 9000 && len(s[0].Target.Addrs) == 1 && s[0].Target.Addrs[0] == "10.0.0.1:8080"
	}, 10*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool {
		evs, err := client.CoreV1().Events("ingress").List(ctx, metav1.ListOptions{})
		require.NoError(t, err)
		for _, e := range evs.Items {
			if e.InvolvedObject.Kind == "ConfigMap" && e.InvolvedObject.Name == "tcp" && e.Reason == translate.ReasonInvalidTCPService {
				return true
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)

	require.Eventually(t, func() bool {
		res := rec.last()
		return res != nil && len(res.UDPServices) == 1 && res.UDPServices[0].Port == 5353
	}, 10*time.Second, 5*time.Millisecond, "the UDP services ConfigMap is read too")

	// An endpoint change reaches the TCP service (Refresh declines).
	_, err := client.DiscoveryV1().EndpointSlices("default").Update(ctx, slice("db", "10.0.0.2"), metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		s := lastTCP(rec)
		return len(s) == 1 && len(s[0].Target.Addrs) == 1 && s[0].Target.Addrs[0] == "10.0.0.2:8080"
	}, 10*time.Second, 5*time.Millisecond)

	// An edit of the ConfigMap applies live.
	cm.Data = map[string]string{"9002": "default/db:http:PROXY"}
	_, err = client.CoreV1().ConfigMaps("ingress").Update(ctx, cm, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		s := lastTCP(rec)
		return len(s) == 1 && s[0].Port == 9002 && s[0].DecodeProxy
	}, 10*time.Second, 5*time.Millisecond)
}

func TestTCPServicesFlagNeedsNamespaceAndName(t *testing.T) {
	_, err := New(nil, Options{TCPServices: "tcp"}, &recorder{}, nil, nil)
	require.Error(t, err)
	_, err = New(nil, Options{UDPServices: "a/b/c"}, &recorder{}, nil, nil)
	require.Error(t, err)
}
