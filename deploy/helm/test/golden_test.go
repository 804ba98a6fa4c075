package test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// update rewrites the golden files instead of comparing:
// `go test . -update` or WEIR_UPDATE_GOLDEN=1.
var update = flag.Bool("update", false, "rewrite testdata/*.golden.yaml")

func updating() bool { return *update || os.Getenv("WEIR_UPDATE_GOLDEN") != "" }

// golden compares got with testdata/name, or writes it there when updating.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if updating() {
		require.NoError(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "no golden file: run `go test . -update` in deploy/helm/test")
	assert.Equal(t, string(want), string(got), "%s is stale: run `go test . -update` in deploy/helm/test and review the diff", path)
}

// E2ERelease and E2ENamespace are the release the end-to-end suite installs
// (conformance/e2e/helm_test.go reads the golden file).
const (
	E2ERelease   = "weir-helm"
	E2ENamespace = "weir-helm"
)

// helmTemplate renders the chart as `helm template RELEASE ../weir -n NS -f
// values` prints it: every template in name order, each headed by its
// source.
func helmTemplate(t *testing.T, release, ns string, values map[string]any) []byte {
	t.Helper()
	files, err := renderRelease(t, release, ns, values)
	require.NoError(t, err)
	names := make([]string, 0, len(files))
	for name := range files {
		if !strings.HasSuffix(name, "NOTES.txt") && strings.TrimSpace(stripComments(files[name])) != "" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, name := range names {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", name, strings.TrimSpace(files[name]))
	}
	return b.Bytes()
}

// TestChartGolden: testdata/weir-helm.golden.yaml is what the chart renders
// with testdata/e2e-values.yaml, the objects the end-to-end suite applies.
func TestChartGolden(t *testing.T) {
	b, err := os.ReadFile("testdata/e2e-values.yaml")
	require.NoError(t, err)
	var values map[string]any
	require.NoError(t, yaml.Unmarshal(b, &values))
	golden(t, "weir-helm.golden.yaml", helmTemplate(t, E2ERelease, E2ENamespace, values))
}

// kustomizeBuild is `kustomize build dir` (`kubectl apply -k dir` applies
// the same objects).
func kustomizeBuild(t *testing.T, dir string) []byte {
	t.Helper()
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
	require.NoError(t, err, "kustomize build %s", dir)
	out, err := m.AsYaml()
	require.NoError(t, err)
	return out
}

// TestKustomizeGolden: the Kustomize base and its Gateway API overlay build,
// and testdata holds what they build to: the objects the end-to-end suite
// applies (conformance/weirdeploy).
func TestKustomizeGolden(t *testing.T) {
	golden(t, "base.golden.yaml", kustomizeBuild(t, "../../base"))
	golden(t, "gateway-api.golden.yaml", kustomizeBuild(t, "../../overlays/gateway-api"))
	golden(t, "tcp-services.golden.yaml", kustomizeBuild(t, "../../overlays/tcp-services"))
}

// TestKustomizeImageIsTheChartsVersion: both installs name the same image
// by default, the chart's appVersion.
func TestKustomizeImageIsTheChartsVersion(t *testing.T) {
	d := one[appsv1.Deployment](t, render(t, nil), "Deployment")
	built := string(kustomizeBuild(t, "../../base"))
	assert.Contains(t, built, "image: "+d.Spec.Template.Spec.Containers[0].Image+"\n")
}
