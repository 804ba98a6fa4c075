// Package e2e is Weir's end-to-end suite: Weir built from this repository,
// deployed from deploy/base into a local cluster (see ../localcluster), and
// real HTTP sent through it to echo-basic Pods.
//
// One cluster and deploy/base's two Weir replicas, behind its LoadBalancer
// Service, serve the whole package; every test works in
// its own namespace with its own hosts, so tests do not see each other's
// routes. Run it as root: `make -C conformance e2e`.
package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"weir.dev/weir/conformance/localcluster"
)

// env is the cluster and the Weir deployment every test shares.
var env *suite

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Println("e2e: skipped, the local cluster needs root")
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	s, err := setUp(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: setting up: %v\n", err)
		if s != nil {
			s.tearDown()
		}
		return 1
	}
	env = s
	code := m.Run()
	if !s.tearDown() && code == 0 {
		code = 1
	}
	return code
}

// tearDown removes the cluster and reports whether nothing was left behind.
func (s *suite) tearDown() bool {
	defer os.RemoveAll(s.tmp)
	if s.cluster == nil {
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.cluster.Down(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: tearing down: %v\n", err)
		return false
	}
	if left := localcluster.Leftovers(ctx, s.cluster.Name); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: cluster %s left behind: %v\n", s.cluster.Name, left)
		return false
	}
	return true
}
