package e2e

import (
	"syscall"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"weir.dev/weir/conformance/localcluster"
)

// signal sends sig to the process of a Pod's container, the way a fault
// does (SIGKILL: a crash; SIGSTOP: a process that hangs with its sockets
// open). A stopped process is continued when the test ends, whatever the
// test did. It returns the process's ID.
func signal(t *testing.T, pod *corev1.Pod, container string, sig syscall.Signal) int {
	t.Helper()
	pid, err := localcluster.ContainerPID(pod, container)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("sending %v to %s/%s (pid %d): %v", sig, pod.Name, container, pid, err)
	}
	if sig == syscall.SIGSTOP {
		t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	}
	t.Logf("sent %v to %s/%s (pid %d)", sig, pod.Name, container, pid)
	return pid
}
