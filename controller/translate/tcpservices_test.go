package translate_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"weir.dev/weir/controller/manifests"
	. "weir.dev/weir/controller/translate"
)

// TestTCPServicesGolden translates testdata/tcpservices/objects.yaml with
// its ConfigMap as --tcp-services-configmap (and a UDP one), ports 80 and
// 443 reserved, and compares the services and problems with
// objects.golden.
func TestTCPServicesGolden(t *testing.T) {
	objs, err := manifests.Load("testdata/tcpservices/objects.yaml")
	require.NoError(t, err)
	in := manifests.Inputs(objs, Options{ReservedPorts: []int{80, 443}})
	for _, o := range objs {
		if cm, ok := o.(*corev1.ConfigMap); ok {
			in.TCPServices = cm
		}
	}
	require.NotNil(t, in.TCPServices)
	in.UDPServices = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "udp-services", Namespace: "ingress-nginx"},
		Data: map[string]string{"5353": "cache/redis:6379", "5354": "cache/redis:6379:PROXY", "443": "cache/redis:6379",
			"5355": "kube-system/dns:53", "5356": "kube-system/dns:dns"}}
	res := Translate(in, 1)
	var b strings.Builder
	for _, s := range res.TCPServices {
		fmt.Fprintf(&b, "%d -> %s [%s] decode-proxy=%t encode-proxy=%t\n", s.Port, s.Target.Name,
			strings.Join(s.Target.Addrs, " "), s.DecodeProxy, s.EncodeProxy)
	}
	for _, s := range res.UDPServices {
		fmt.Fprintf(&b, "udp %d -> %s [%s]\n", s.Port, s.Target.Name, strings.Join(s.Target.Addrs, " "))
	}
	b.WriteString("---\n")
	b.WriteString(FormatProblems(res.Problems))
	compareGolden(t, "testdata/tcpservices/objects.golden", b.String())
}

// TestTCPServicesRefresh: an endpoint change of a Service a TCP service
// uses makes Refresh decline, so the full translation resolves it again;
// other Services keep the fast path.
func TestTCPServicesRefresh(t *testing.T) {
	objs, err := manifests.Load("testdata/tcpservices/objects.yaml")
	require.NoError(t, err)
	in := manifests.Inputs(objs, Options{})
	for _, o := range objs {
		if cm, ok := o.(*corev1.ConfigMap); ok {
			in.TCPServices = cm
		}
	}
	res := Translate(in, 1)
	_, ok := Refresh(res, in, map[string]bool{"cache/redis": true}, 2)
	require.False(t, ok, "a TCP service's endpoints changed: Refresh must decline")
	_, ok = Refresh(res, in, map[string]bool{"other/web": true}, 2)
	require.True(t, ok)
}

func FuzzParseTCPServices(f *testing.F) {
	for _, s := range []string{"db/postgres:5432", "cache/redis:redis:PROXY", "a/b:1::PROXY", "a/b:c:proxy:proxy", ":::", "a/b", "/:"} {
		f.Add("5432", s)
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		entries, ps := ParseTCPServices(map[string]string{key: value}, []int{80})
		require.Equal(t, 1, len(entries)+len(ps), "every entry is either taken or refused")
		for _, e := range entries {
			require.True(t, e.ExternalPort >= 1 && e.ExternalPort <= 65535 && e.ExternalPort != 80)
			require.NotEmpty(t, e.Namespace)
			require.NotEmpty(t, e.Service)
		}
	})
}
