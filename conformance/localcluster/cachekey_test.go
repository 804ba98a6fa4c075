package localcluster

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The binary cache survives a test dependency being added to go.sum, and is
// rebuilt when Kubernetes or etcd move.
func TestCacheKeyFollowsOnlyKubernetesAndEtcd(t *testing.T) {
	sum := "k8s.io/kubernetes v1.37.2 h1:a=\ngo.etcd.io/etcd/server/v3 v3.7.3 h1:b=\n"
	withHelm := sum + "helm.sh/helm/v3 v3.22.0 h1:c=\n"
	assert.Equal(t, cacheKey([]byte(sum)), cacheKey([]byte(withHelm)))
	moved := "k8s.io/kubernetes v1.37.3 h1:d=\ngo.etcd.io/etcd/server/v3 v3.7.3 h1:b=\n"
	assert.NotEqual(t, cacheKey([]byte(sum)), cacheKey([]byte(moved)))
}
