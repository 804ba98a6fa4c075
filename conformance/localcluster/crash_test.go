package localcluster_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"weir.dev/weir/conformance/localcluster"
)

// TestDownAfterCrash kills `localcluster up` with SIGKILL while a Pod runs
// and checks that `down` leaves nothing behind.
func TestDownAfterCrash(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the local cluster needs root (network and mount namespaces)")
	}
	const name = "t-crash"
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t.Cleanup(func() { _ = localcluster.Down(context.Background(), name) })
	bin := filepath.Join(t.TempDir(), "localcluster")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "weir.dev/weir/conformance/cmd/localcluster").CombinedOutput(); err != nil {
		t.Fatalf("building the command: %v\n%s", err, out)
	}
	up := exec.CommandContext(ctx, bin, "up", "--name", name)
	stdout, _ := up.StdoutPipe()
	if err := up.Start(); err != nil {
		t.Fatalf("starting up: %v", err)
	}
	kubeconfig := readKubeconfigLine(t, stdout)
	go func() { _, _ = bufio.NewReader(stdout).WriteTo(discard{}) }()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatalf("loading %s: %v", kubeconfig, err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	createEcho(ctx, t, cs, "default", "echo", 1)
	waitReadyPods(ctx, t, cs, "default", "app=echo", 1)

	pids := recordedPids(t, filepath.Join("/tmp", "weir-cluster-"+name, "pids"))
	_ = up.Process.Kill()
	_ = up.Wait()
	if err := localcluster.Down(ctx, name); err != nil {
		t.Fatalf("down after a crash: %v", err)
	}
	if left := localcluster.Leftovers(ctx, name); len(left) > 0 {
		t.Errorf("left behind after down: %v", left)
	}
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			t.Errorf("process %d still alive after down", pid)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func readKubeconfigLine(t *testing.T, r interface{ Read([]byte) (int, error) }) string {
	t.Helper()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if k, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "export KUBECONFIG="); ok {
				found <- k
				return
			}
		}
		close(found)
	}()
	select {
	case k, ok := <-found:
		if !ok {
			t.Fatal("up exited without printing its kubeconfig")
		}
		return k
	case <-time.After(3 * time.Minute):
		t.Fatal("up printed no kubeconfig in 3 minutes")
	}
	return ""
}

func recordedPids(t *testing.T, dir string) []int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("reading the pid records: %v", err)
	}
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	if len(pids) < 4 { // etcd, kube-apiserver, kube-controller-manager, the Pod
		t.Fatalf("want at least 4 recorded processes, have %v", pids)
	}
	return pids
}
