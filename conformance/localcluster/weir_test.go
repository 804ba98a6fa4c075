package localcluster_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"weir.dev/weir/conformance/localcluster"
)

// TestWeirImageInCluster runs a stand-in for Weir as the binary of a "weir"
// image and checks it reaches the API server with its Pod's service-account
// token, as Weir deployed in the cluster will.
func TestWeirImageInCluster(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "weir")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/incluster").CombinedOutput(); err != nil {
		t.Fatalf("building the stand-in: %v\n%s", err, out)
	}
	c := localcluster.Start(t, localcluster.Options{WeirBinary: bin})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "weir-test"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "view"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "default", Namespace: "default"}},
	}
	if _, err := c.Client.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		t.Fatalf("granting view: %v", err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "weir", Namespace: "default", Labels: map[string]string{"test": "weir"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "main", Image: "ghcr.io/example/weir:dev",
			Command: []string{"/weir", "--from-command"}, Args: []string{"--from-args"},
		}}},
	}
	created, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating the Pod: %v", err)
	}
	waitReadyPods(ctx, t, c.Client, "default", "test=weir", 1)
	waitLog(ctx, t, c.PodLogPath(created, "main"), "IN-CLUSTER-OK pods=1 args=[--from-command --from-args]")
}
