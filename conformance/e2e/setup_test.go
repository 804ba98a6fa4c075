package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"weir.dev/weir/conformance/localcluster"
	"weir.dev/weir/conformance/weirdeploy"
)

// weirReplicas is deploy/base's replica count, kept in the suite.
const weirReplicas = 2

// suite is the shared cluster and the Weir Pods under test, behind
// deploy/base's LoadBalancer Service.
type suite struct {
	cluster *localcluster.Cluster
	tmp     string
	weirs   []corev1.Pod
	address string // the Service's load-balancer address; Weir publishes it to Ingress status
	url     string // http://<address>:80, spread over the Weir Pods
	// Setup records how long each step took, for the README.
	Setup map[string]time.Duration
}

func setUp(ctx context.Context) (*suite, error) {
	s := &suite{Setup: map[string]time.Duration{}}
	var err error
	if s.tmp, err = os.MkdirTemp("", "weir-e2e-"); err != nil {
		return nil, err
	}
	root, err := weirdeploy.RepoRoot(ctx)
	if err != nil {
		return s, err
	}
	bin := filepath.Join(s.tmp, "weir")
	t0 := time.Now()
	if err := weirdeploy.BuildWeir(ctx, root, bin); err != nil {
		return s, err
	}
	s.Setup["build weir"] = time.Since(t0)
	graceful, err := buildGraceful(ctx, s.tmp)
	if err != nil {
		return s, err
	}
	t0 = time.Now()
	c, err := localcluster.Up(ctx, localcluster.Options{Name: localcluster.CheckoutName("e2e"), WeirBinary: bin, Logf: logf,
		Images: []localcluster.ImageRule{{Contains: gracefulImage, Binary: graceful}}})
	if err != nil {
		return s, fmt.Errorf("bringing the cluster up: %w", err)
	}
	s.cluster = c
	s.Setup["cluster up"] = time.Since(t0)
	t0 = time.Now()
	// The global ConfigMap (configmap_test.go) starts absent: Weir then
	// serves with the defaults.
	pods, err := weirdeploy.Deploy(ctx, c, root, weirdeploy.Options{Replicas: weirReplicas,
		// E2E_WEIR_ARGS adds flags, e.g. --log-level=debug for the
		// controller's timestamps (s8_test.go).
		ExtraArgs: append([]string{"--configmap=" + weirdeploy.Namespace + "/" + globalConfigMap,
			"--enable-ssl-passthrough", "--tcp-services-configmap=" + weirdeploy.Namespace + "/" + tcpServicesConfigMap,
			"--udp-services-configmap=" + weirdeploy.Namespace + "/" + udpServicesConfigMap}, strings.Fields(os.Getenv("E2E_WEIR_ARGS"))...)})
	if err != nil {
		return s, err
	}
	s.weirs = pods
	if s.address, err = weirdeploy.WaitAddress(ctx, c); err != nil {
		return s, err
	}
	s.Setup["weir ready"] = time.Since(t0)
	s.url = "http://" + s.address
	fmt.Printf("e2e: cluster %s up, Weir at %s; set-up took %v\n", c.Name, s.url, s.Setup)
	return s, nil
}

func logf(format string, args ...any) {
	if os.Getenv("E2E_VERBOSE") != "" {
		fmt.Printf(format+"\n", args...)
	}
}

// gracefulImage runs echo-basic behind testdata/graceful, which keeps
// serving 2 s after SIGTERM, as an app rolled out without errors must.
const gracefulImage = "e2e/echo-graceful"

func buildGraceful(ctx context.Context, dir string) (string, error) {
	bins, err := localcluster.BuildBinaries(ctx, nil)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "graceful")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "-ldflags", "-X main.echoBasic="+bins.EchoBasic, "./testdata/graceful")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building testdata/graceful: %v\n%s", err, b)
	}
	return out, nil
}
