package localcluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Binaries are the programs the cluster runs, built from the conformance
// module's own dependencies.
type Binaries struct {
	Dir                   string
	Etcd                  string
	KubeAPIServer         string
	KubeControllerManager string
	EchoBasic             string
}

// packages maps each binary name to the package built into it.
var packages = []struct{ name, pkg string }{
	{"etcd", "go.etcd.io/etcd/server/v3"},
	{"kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver"},
	{"kube-controller-manager", "k8s.io/kubernetes/cmd/kube-controller-manager"},
	{"echo-basic", "sigs.k8s.io/gateway-api/conformance/echo-basic"},
}

const completeStamp = ".complete"

func binariesIn(dir string) Binaries {
	return Binaries{
		Dir:                   dir,
		Etcd:                  filepath.Join(dir, "etcd"),
		KubeAPIServer:         filepath.Join(dir, "kube-apiserver"),
		KubeControllerManager: filepath.Join(dir, "kube-controller-manager"),
		EchoBasic:             filepath.Join(dir, "echo-basic"),
	}
}

// CacheRoot is where built binaries are kept: $WEIR_CACHE, else
// $HOME/.cache/weir. It is outside the repository on purpose.
func CacheRoot() string {
	if d := os.Getenv("WEIR_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "weir-cache")
	}
	return filepath.Join(home, ".cache", "weir")
}

// ModuleDir finds the conformance module's directory with `go env GOMOD`,
// which works from any directory inside the module (go run, go test).
func ModuleDir(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the conformance module with go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module: run from the conformance/ directory")
	}
	return filepath.Dir(gomod), nil
}

// cacheKey names the cache directory after the go.sum lines of the modules
// the binaries are built from (Kubernetes and etcd), so adding an unrelated
// test dependency to the conformance module does not cost a cold build.
func cacheKey(sum []byte) string {
	h := sha256.New()
	for _, line := range strings.Split(string(sum), "\n") {
		if strings.HasPrefix(line, "k8s.io/") || strings.HasPrefix(line, "go.etcd.io/") {
			h.Write([]byte(line + "\n"))
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// BuildBinaries returns the cached binaries for the current conformance/go.sum,
// building them first when the cache has none. A cold build takes several
// minutes; concurrent callers wait on a lock file and build once.
func BuildBinaries(ctx context.Context, logf Logf) (Binaries, error) {
	if logf == nil {
		logf = discardLogf
	}
	modDir, err := ModuleDir(ctx)
	if err != nil {
		return Binaries{}, err
	}
	sum, err := os.ReadFile(filepath.Join(modDir, "go.sum"))
	if err != nil {
		return Binaries{}, fmt.Errorf("reading go.sum to key the binary cache: %w", err)
	}
	dir := filepath.Join(CacheRoot(), "bin", cacheKey(sum))
	if complete(dir) {
		return binariesIn(dir), nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return Binaries{}, fmt.Errorf("creating the binary cache: %w", err)
	}
	unlock, err := lockFile(dir + ".lock")
	if err != nil {
		return Binaries{}, err
	}
	defer unlock()
	if complete(dir) { // built by whoever held the lock before us
		return binariesIn(dir), nil
	}
	if err := build(ctx, modDir, dir, logf); err != nil {
		return Binaries{}, err
	}
	return binariesIn(dir), nil
}

func complete(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, completeStamp))
	return err == nil
}

func build(ctx context.Context, modDir, dir string, logf Logf) error {
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("clearing %s: %w", tmp, err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", tmp, err)
	}
	for _, p := range packages {
		start := time.Now()
		logf("building %s (%s)", p.name, p.pkg)
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w",
			"-o", filepath.Join(tmp, p.name), p.pkg)
		cmd.Dir = modDir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s: %w\n%s", p.pkg, err, out)
		}
		logf("built %s in %s", p.name, time.Since(start).Round(time.Second))
	}
	if err := os.WriteFile(filepath.Join(tmp, completeStamp), nil, 0o644); err != nil {
		return fmt.Errorf("stamping the binary cache: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("replacing %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("publishing the binary cache: %w", err)
	}
	return nil
}

// lockFile takes an exclusive flock on path and returns its release.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// lockDir takes an exclusive flock on a directory, which leaves no file
// behind, and returns its release.
func lockDir(dir string) (func(), error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("opening %s to lock it: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
