package localcluster

import (
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestPodHostnameDerivation(t *testing.T) {
	long := strings.Repeat("a", 62) + "-b"
	cases := []struct {
		name, hostname, subdomain string
		fqdn                      bool
		wantUTS, wantDomain       string
	}{
		{name: "weir-5d8f-x2x7q", wantUTS: "weir-5d8f-x2x7q"},
		{name: long, wantUTS: strings.Repeat("a", 62)}, // cut to 63, trailing '-' dropped
		{name: "p", hostname: "custom", wantUTS: "custom"},
		{name: "p", hostname: "h", subdomain: "sub", wantUTS: "h", wantDomain: "sub.ns.svc.cluster.local"},
		{name: "p", hostname: "h", subdomain: "sub", fqdn: true, wantUTS: "h.sub.ns.svc.cluster.local", wantDomain: "sub.ns.svc.cluster.local"},
		{name: "p", fqdn: true, wantUTS: "p"}, // setHostnameAsFQDN without a subdomain has no domain to add
	}
	for _, tc := range cases {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: tc.name, Namespace: "ns"},
			Spec:       corev1.PodSpec{Hostname: tc.hostname, Subdomain: tc.subdomain, SetHostnameAsFQDN: ptr.To(tc.fqdn)},
		}
		uts, err := utsName(pod)
		_, domain := podHostname(pod)
		if err != nil || uts != tc.wantUTS || domain != tc.wantDomain {
			t.Errorf("%+v: got %q, %q, %v; want %q, %q", tc, uts, domain, err, tc.wantUTS, tc.wantDomain)
		}
	}
	tooLong := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: strings.Repeat("n", 50)},
		Spec:       corev1.PodSpec{Hostname: "h", Subdomain: "sub", SetHostnameAsFQDN: ptr.To(true)},
	}
	if got, err := utsName(tooLong); err == nil {
		t.Errorf("a 74-byte FQDN as host name: got %q, want an error (the kernel allows 64)", got)
	}
}

func TestHostsFile(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec: corev1.PodSpec{Hostname: "h", Subdomain: "sub",
			HostAliases: []corev1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"a.example", "b.example"}}}},
	}
	path, err := writeHostsFile(t.TempDir(), pod, "10.244.9.7")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	for _, want := range []string{"127.0.0.1\tlocalhost\n", "10.244.9.7\th.sub.ns.svc.cluster.local\th\n", "10.1.2.3\ta.example\tb.example\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("hosts file lacks %q:\n%s", want, b)
		}
	}
}
