// Package gatewayconf runs the upstream Gateway API conformance suite
// (sigs.k8s.io/gateway-api/conformance v1.6.3, unchanged) against Weir
// deployed from deploy/ on the local cluster. This file holds the set-up
// steps; gatewayconf_test.go is the run (`make gateway-conformance`).
package gatewayconf

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"weir.dev/weir/conformance/localcluster"
)

// GatewayAPIModule holds the CRDs the suite checks against.
const GatewayAPIModule = "sigs.k8s.io/gateway-api"

// ClassName is the GatewayClass the suite runs against, and ControllerName
// the controller name Weir claims by default (--gateway-controller-name).
const (
	ClassName      = "gateway-conformance"
	ControllerName = "weir.dev/gateway-controller"
)

// ModuleDir is where the Go module cache holds module (as required by this
// module's go.mod).
func ModuleDir(ctx context.Context, module string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	if err != nil {
		return "", fmt.Errorf("locating module %s: %w", module, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// InstallCRDs applies the standard channel's CRDs from the gateway-api
// module directory.
func InstallCRDs(ctx context.Context, c *localcluster.Cluster) error {
	dir, err := ModuleDir(ctx, GatewayAPIModule)
	if err != nil {
		return err
	}
	files, _ := filepath.Glob(filepath.Join(dir, "config", "crd", "standard", "gateway.networking.k8s.io_*.yaml"))
	if len(files) == 0 {
		return fmt.Errorf("no standard-channel CRDs under %s", dir)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := c.ApplyYAML(ctx, b, ""); err != nil {
			return fmt.Errorf("applying %s: %w", filepath.Base(f), err)
		}
	}
	return nil
}

// ApplyDeployGatewayAPI applies deploy/gateway-api's objects (the GatewayClass
// weir and whatever else Weir's Gateway side ships there) except CRD
// bundles, which InstallCRDs installs from the module.
func ApplyDeployGatewayAPI(ctx context.Context, c *localcluster.Cluster, root, namespace string) error {
	files, _ := filepath.Glob(filepath.Join(root, "deploy", "gateway-api", "*.yaml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if strings.Contains(string(b), "kind: CustomResourceDefinition") {
			continue
		}
		if err := c.ApplyYAML(ctx, b, namespace); err != nil {
			return fmt.Errorf("applying %s: %w", filepath.Base(f), err)
		}
	}
	return nil
}

// flagName matches a flag in Go's or pflag's usage output.
var flagName = regexp.MustCompile(`(?m)^\s+--?([a-z0-9][a-z0-9-]*)`)

// enableFlags are names a flag turning Weir's Gateway side on may have.
var enableFlags = []string{"enable-gateway-api", "gateway-api", "enable-gateway", "gateway"}

// GatewayFlags returns the arguments that turn Weir's Gateway side on, read
// from the binary's usage: --gateway-controller-name and a boolean enabling
// flag when Weir has one. The environment variable WEIR_GATEWAY_FLAGS
// (space-separated) replaces them. An error says Weir has no Gateway side.
func GatewayFlags(ctx context.Context, weir string) ([]string, error) {
	if v := os.Getenv("WEIR_GATEWAY_FLAGS"); v != "" {
		return strings.Fields(v), nil
	}
	out, _ := exec.CommandContext(ctx, weir, "--help").CombinedOutput() // usage exits non-zero
	have := map[string]bool{}
	for _, m := range flagName.FindAllStringSubmatch(string(out), -1) {
		have[m[1]] = true
	}
	if !have["gateway-controller-name"] {
		return nil, fmt.Errorf("weir --help lists no --gateway-controller-name flag: this build has no Gateway API side (set WEIR_GATEWAY_FLAGS to pass other flags)")
	}
	args := []string{"--gateway-controller-name=" + ControllerName}
	for _, f := range enableFlags {
		if have[f] {
			args = append(args, "--"+f+"=true")
			break
		}
	}
	return args, nil
}

// GatewayClassYAML is the class the suite uses, claimed by Weir.
func GatewayClassYAML() []byte {
	return []byte(fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: %s
spec:
  controllerName: %s
`, ClassName, ControllerName))
}

// WaitAccepted waits until the GatewayClass is Accepted at its current
// generation and lists supportedFeatures, and returns them. On timeout the
// error says what the status last showed.
func WaitAccepted(ctx context.Context, cl client.Client, name string, timeout time.Duration) ([]gatewayv1.SupportedFeature, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last string
	for {
		gc := &gatewayv1.GatewayClass{}
		err := cl.Get(ctx, types.NamespacedName{Name: name}, gc)
		switch {
		case err == nil:
			cond := meta.FindStatusCondition(gc.Status.Conditions, string(gatewayv1.GatewayClassConditionStatusAccepted))
			if cond != nil && cond.Status == metav1.ConditionTrue && cond.ObservedGeneration == gc.Generation && len(gc.Status.SupportedFeatures) > 0 {
				return gc.Status.SupportedFeatures, nil
			}
			last = fmt.Sprintf("conditions %+v, %d supportedFeatures", gc.Status.Conditions, len(gc.Status.SupportedFeatures))
		case apierrors.IsNotFound(err):
			last = "the GatewayClass does not exist"
		default:
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("GatewayClass %s not Accepted with supportedFeatures within %s: %s", name, timeout, last)
		case <-time.After(time.Second):
		}
	}
}

// Version names the Weir build under test: git describe of the repository
// (with -dirty for uncommitted changes), else "dev".
func Version(ctx context.Context, root string) string {
	cmd := exec.CommandContext(ctx, "git", "describe", "--tags", "--always", "--dirty")
	cmd.Dir = root
	out, err := cmd.Output()
	if v := strings.TrimSpace(string(out)); err == nil && v != "" {
		return v
	}
	return "dev"
}

// WeirLogTail returns the last lines of every Weir Pod's log, for messages.
func WeirLogTail(ctx context.Context, c *localcluster.Cluster, namespace, selector string, lines int) string {
	pods, err := c.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return "listing Weir's Pods: " + err.Error()
	}
	var b strings.Builder
	for i := range pods.Items {
		raw, _ := os.ReadFile(c.PodLogPath(&pods.Items[i], "weir"))
		all := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
		fmt.Fprintf(&b, "--- log of %s (last %d lines)\n%s\n", pods.Items[i].Name, lines, strings.Join(all[max(0, len(all)-lines):], "\n"))
	}
	return b.String()
}
