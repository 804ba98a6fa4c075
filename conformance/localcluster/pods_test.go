package localcluster_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"weir.dev/weir/conformance/localcluster"
)

// shellImage maps to /bin/sh so tests can look inside a container.
var shellImage = localcluster.ImageRule{Contains: "test-shell", Binary: "/bin/sh"}

// TestVolumesAndEnv checks that a Pod waits for the Secret and ConfigMap it
// references, then sees them as env and files, along with the downward API
// and a service-account token.
func TestVolumesAndEnv(t *testing.T) {
	c := localcluster.Start(t, localcluster.Options{Images: []localcluster.ImageRule{shellImage}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	script := `echo "NAME=$POD_NAME NS=$NAMESPACE IP=$POD_IP SECRET=$SECRET CM=$CM"
echo "FILE=$(cat /etc/cfg/greeting) SFILE=$(cat /etc/sec/value)"
echo "SANS=$(cat /var/run/secrets/kubernetes.io/serviceaccount/namespace)"
test -s /var/run/secrets/kubernetes.io/serviceaccount/token && echo TOKEN-OK
grep -q CERTIFICATE /var/run/secrets/kubernetes.io/serviceaccount/ca.crt && echo CA-OK
exec sleep 600`
	pod := shellPod("inspect", script)
	pod.Spec.Containers[0].Env = []corev1.EnvVar{
		fieldEnv("POD_NAME", "metadata.name"), fieldEnv("NAMESPACE", "metadata.namespace"), fieldEnv("POD_IP", "status.podIP"),
		{Name: "SECRET", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "s1"}, Key: "value"}}},
		{Name: "CM", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cm1"}, Key: "greeting"}}},
	}
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm1"}}}},
		{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s1"}}},
	}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{
		{Name: "cfg", MountPath: "/etc/cfg", ReadOnly: true},
		{Name: "sec", MountPath: "/etc/sec", ReadOnly: true},
	}
	created, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the Pod: %v", err)
	}
	time.Sleep(2 * time.Second) // the kubelet retries while s1 and cm1 are missing
	if got, _ := c.Client.CoreV1().Pods("default").Get(ctx, "inspect", metav1.GetOptions{}); podReady(got) {
		t.Fatalf("Pod Ready before its Secret exists")
	}
	createData(ctx, t, c)
	pods := waitReadyPods(ctx, t, c.Client, "default", "test=inspect", 1)
	ip := pods[0].Status.PodIP
	out := waitLog(ctx, t, c.PodLogPath(created, "main"), "CA-OK")
	for _, want := range []string{
		"NAME=inspect NS=default IP=" + ip + " SECRET=s3cr3t CM=hello",
		"FILE=hello SFILE=s3cr3t", "SANS=default", "TOKEN-OK",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("container output lacks %q:\n%s", want, out)
		}
	}
	checkPodsLog(ctx, t, c, "inspect")
	for _, dir := range []string{"/etc/cfg", "/etc/sec"} {
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("the volume at %s is visible outside the Pod's mount namespace", dir)
		}
	}
}

// TestRestartBackoff checks that an exiting container is restarted and its
// restarts are counted and logged.
func TestRestartBackoff(t *testing.T) {
	c := localcluster.Start(t, localcluster.Options{Images: []localcluster.ImageRule{shellImage}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	created, err := c.Client.CoreV1().Pods("default").Create(ctx, shellPod("crash", "echo run; exit 3"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the Pod: %v", err)
	}
	poll(ctx, t, "two restarts", func(ctx context.Context) (bool, error) {
		p, err := c.Client.CoreV1().Pods("default").Get(ctx, "crash", metav1.GetOptions{})
		if err != nil || len(p.Status.ContainerStatuses) == 0 {
			return false, nil
		}
		cs := p.Status.ContainerStatuses[0]
		return cs.RestartCount >= 2 && cs.LastTerminationState.Terminated != nil &&
			cs.LastTerminationState.Terminated.ExitCode == 3, nil
	})
	b, _ := os.ReadFile(c.PodLogPath(created, "main"))
	if n := strings.Count(string(b), "run"); n < 3 {
		t.Errorf("want the log of at least 3 runs, have %d:\n%s", n, b)
	}
}

func shellPod(name, script string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"test": name}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: new(int64),
			Containers:                    []corev1.Container{{Name: "main", Image: "test-shell:1", Args: []string{"-c", script}}},
		},
	}
}

func fieldEnv(env, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: env, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
}

func createData(ctx context.Context, t *testing.T, c *localcluster.Cluster) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s1"}, StringData: map[string]string{"value": "s3cr3t"}}
	if _, err := c.Client.CoreV1().Secrets("default").Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the Secret: %v", err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm1"}, Data: map[string]string{"greeting": "hello"}}
	if _, err := c.Client.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the ConfigMap: %v", err)
	}
}

func waitLog(ctx context.Context, t *testing.T, path, want string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		b, _ := os.ReadFile(path)
		if out := string(b); strings.Contains(out, want) {
			return out
		} else if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("waiting for %q in %s; the log holds:\n%s", want, path, out)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// checkPodsLog reads the Pod's log through kube-apiserver (pods/log), which
// proxies to the kubelet's endpoint, with and without sinceTime.
func checkPodsLog(ctx context.Context, t *testing.T, c *localcluster.Cluster, name string) {
	t.Helper()
	get := func(opts *corev1.PodLogOptions) string {
		opts.Container = "main"
		b, err := c.Client.CoreV1().Pods("default").GetLogs(name, opts).DoRaw(ctx)
		if err != nil {
			t.Fatalf("reading pods/log: %v", err)
		}
		return string(b)
	}
	if all := get(&corev1.PodLogOptions{}); !strings.Contains(all, "TOKEN-OK") {
		t.Errorf("pods/log lacks TOKEN-OK:\n%s", all)
	}
	if last := get(&corev1.PodLogOptions{TailLines: ptr.To[int64](1)}); strings.TrimSpace(last) != "CA-OK" {
		t.Errorf("pods/log tailLines=1: want CA-OK, have %q", last)
	}
	future := metav1.NewTime(time.Now().Add(time.Hour))
	if later := get(&corev1.PodLogOptions{SinceTime: &future}); later != "" {
		t.Errorf("pods/log sinceTime in the future: want nothing, have %q", later)
	}
	stamped := get(&corev1.PodLogOptions{Timestamps: true, TailLines: ptr.To[int64](1)})
	if stamp, _, _ := strings.Cut(stamped, " "); !strings.HasPrefix(stamp, time.Now().UTC().Format("2006-01-02T")) {
		t.Errorf("pods/log timestamps: want an RFC 3339 stamp, have %q", stamped)
	}
}
