package localcluster_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"weir.dev/weir/conformance/localcluster"
)

// TestPodHostname checks that every Pod runs in its own UTS namespace named
// after it (spec.hostname and subdomain honoured) with its own /etc/hosts,
// and that the machine's host name stays as it was.
func TestPodHostname(t *testing.T) {
	c := localcluster.Start(t, localcluster.Options{Images: []localcluster.ImageRule{shellImage}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	before, _ := os.Hostname()
	script := `echo "UTS=$(cat /proc/sys/kernel/hostname) ENV=$HOSTNAME"
echo "HOSTS=$(grep "^$POD_IP" /etc/hosts | tr '\t' ' ')"
echo DONE
exec sleep 600`
	plain, named := shellPod("plain", script), shellPod("named", script)
	named.Spec.Hostname, named.Spec.Subdomain = "web-0", "web"
	want := map[*corev1.Pod][]string{
		plain: {"UTS=plain ENV=plain", "HOSTS=%s plain"},
		named: {"UTS=web-0 ENV=web-0", "HOSTS=%s web-0.web.default.svc.cluster.local web-0"},
	}
	for pod := range want {
		pod.Spec.Containers[0].Env = []corev1.EnvVar{fieldEnv("POD_IP", "status.podIP")}
		created, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("creating Pod %s: %v", pod.Name, err)
		}
		ready := waitReadyPods(ctx, t, c.Client, "default", "test="+pod.Name, 1)
		out := waitLog(ctx, t, c.PodLogPath(created, "main"), "DONE")
		for _, w := range want[pod] {
			if w = strings.Replace(w, "%s", ready[0].Status.PodIP, 1); !strings.Contains(out, w) {
				t.Errorf("Pod %s: output lacks %q:\n%s", pod.Name, w, out)
			}
		}
	}
	if after, _ := os.Hostname(); after != before {
		t.Errorf("the machine's host name changed from %q to %q", before, after)
	}
}
