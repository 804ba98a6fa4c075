package weirdeploy

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBuiltKustomizeSplits: each built Kustomize output holds one Deployment
// in Weir's namespace, and Options reach it.
func TestBuiltKustomizeSplits(t *testing.T) {
	root, err := RepoRoot(context.Background())
	require.NoError(t, err)
	for _, ingressOnly := range []bool{true, false} {
		b, err := os.ReadFile(Built(root, ingressOnly))
		require.NoError(t, err)
		others, deployment, err := SplitDeployment(b)
		require.NoError(t, err)
		assert.NotContains(t, string(others), "kind: Deployment")
		assert.True(t, strings.HasPrefix(strings.TrimSpace(string(others)), "apiVersion: v1\nkind: Namespace"), "the Namespace comes first")
		d, err := adjust(deployment, Options{Replicas: 3, ExtraArgs: []string{"--shutdown-delay=0s"}})
		require.NoError(t, err)
		assert.Equal(t, int32(3), *d.Spec.Replicas)
		args := d.Spec.Template.Spec.Containers[0].Args
		assert.Equal(t, "--shutdown-delay=0s", args[len(args)-1])
		assert.Contains(t, args, map[bool]string{true: "--enable-gateway-api=false", false: "--enable-gateway-api=true"}[ingressOnly])
	}
}
