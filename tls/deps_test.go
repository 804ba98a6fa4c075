package tls

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoKubernetesDependencies keeps the handshake path free of client-go:
// tls is kept free of it, so that nothing here can wait on
// the API server.
func TestNoKubernetesDependencies(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "k8s.io/") || strings.HasPrefix(dep, "sigs.k8s.io/") {
			t.Errorf("tls depends on %s", dep)
		}
	}
}
