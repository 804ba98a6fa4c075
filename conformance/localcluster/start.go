package localcluster

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Start brings a cluster up for a test and registers its teardown, which
// fails the test if anything is left behind. It skips the test when not root.
// The first call on a machine may build the binaries (several minutes).
// An empty opts.Name becomes a name derived from the test's name.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the local cluster needs root (network and mount namespaces)")
	}
	if opts.Name == "" {
		opts.Name = nameFor(t.Name())
	}
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	c, err := Up(ctx, opts)
	if err != nil {
		t.Fatalf("bringing the local cluster up: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		err := c.Down(ctx)
		c.muted.Store(true) // t.Logf after the test has ended panics
		if err != nil {
			t.Errorf("tearing the local cluster down: %v", err)
		}
		if left := Leftovers(ctx, c.Name); len(left) > 0 {
			t.Errorf("cluster %s left behind: %v", c.Name, left)
		}
	})
	return c
}

// nameFor turns a test name into a valid cluster name, suffixed with a hash
// of the working directory (the test's package) so that tests of the same
// name in two packages running at once get two clusters.
func nameFor(test string) string {
	return CheckoutName(testSlug(test))
}

// CheckoutName is a hash of the working directory followed by prefix (at
// most 25 lower-case letters, digits and dashes): the same in every run from
// one checkout, different in two checkouts, so that suites run at once from
// two worktrees never take down each other's clusters (Up removes a
// leftover cluster of its name first). The hash comes first so that the
// name never extends another cluster's name, which older versions of the
// cleanup took for one of their own.
func CheckoutName(prefix string) string {
	wd, _ := os.Getwd()
	h := fnv.New32a()
	h.Write([]byte(wd))
	return fmt.Sprintf("%04x-%s", h.Sum32()&0xffff, prefix)
}

func testSlug(test string) string {
	b := []byte{}
	for _, r := range []byte(test) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b = append(b, r)
		case r >= 'A' && r <= 'Z':
			b = append(b, r+'a'-'A')
		case len(b) > 0 && b[len(b)-1] != '-':
			b = append(b, '-')
		}
	}
	if len(b) > 25 {
		b = b[:25]
	}
	for len(b) > 0 && b[len(b)-1] == '-' {
		b = b[:len(b)-1]
	}
	if len(b) == 0 {
		return "test"
	}
	return string(b)
}

// PodNetns lists the network namespaces the cluster's Pods currently have.
func (c *Cluster) PodNetns(ctx context.Context) []string {
	return listNetns(ctx, c.l.netnsPfx)
}

// ContainerPID returns the host pid of a running container from the Pod's
// status (containerID "weir://<pid>"). Killing it simulates a crash; the
// kubelet restarts the container with back-off.
func ContainerPID(pod *corev1.Pod, container string) (int, error) {
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name != container {
			continue
		}
		s, ok := strings.CutPrefix(cs.ContainerID, "weir://")
		if !ok || cs.State.Running == nil {
			return 0, fmt.Errorf("container %s of %s/%s is not running", container, pod.Namespace, pod.Name)
		}
		return strconv.Atoi(s)
	}
	return 0, fmt.Errorf("pod %s/%s has no status for container %s", pod.Namespace, pod.Name, container)
}
