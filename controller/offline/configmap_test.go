package offline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/controller"
	"weir.dev/weir/controller/globalconfig"
	"weir.dev/weir/controller/translate"
)

func configMapYAML(data string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: weir, namespace: default}\ndata: {" + data + "}\n"
}

// globalTable records tables and global configurations.
type globalTable struct {
	lastTable
	mu       sync.Mutex
	global   *globalconfig.Config
	problems []translate.Problem
}

func (g *globalTable) Publish(res *translate.Result) {
	g.lastTable.Publish(res)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.problems = res.Problems
}

func (g *globalTable) PublishGlobal(c *globalconfig.Config) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.global = c
}

func (g *globalTable) reasons() map[string]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]string{}
	for _, p := range g.problems {
		if p.Object.Kind == "ConfigMap" {
			out[p.Field] = p.Reason
		}
	}
	return out
}

func (g *globalTable) blocks() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.global == nil {
		return -1
	}
	return len(g.global.Block.CIDRs)
}

// The ConfigMap in the manifests is applied at start and on every edit,
// without a restart; an invalid value keeps the last valid one and is a
// problem on the ConfigMap.
func TestOfflineConfigMapLive(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	write("base.yaml", base)
	write("ingress.yaml", ingressYAML("a.test"))
	write("cm.yaml", configMapYAML(`proxy-body-size: 8m, upstream-keepalive-timeout: "30"`))
	pub := &globalTable{}
	o, err := New(dir, controller.Options{HoldOff: 10 * time.Millisecond, ConfigMap: "default/weir"}, pub, nil, nil)
	require.NoError(t, err)
	var start globalconfig.Start
	o.Controller().StartConfig().ApplyStart(&start)
	assert.Equal(t, 30*time.Second, start.UpstreamKeepaliveTimeout, "the upstream pools start with the ConfigMap's upstream-keepalive-timeout")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	has := func(s string) func() bool { return func() bool { return strings.Contains(pub.get(), s) } }
	require.Eventually(t, has("max-body 8388608"), 20*time.Second, 10*time.Millisecond)
	assert.Equal(t, 0, pub.blocks())

	write("cm.yaml", configMapYAML(`proxy-body-size: 2m, upstream-keepalive-timeout: "30", block-cidrs: "203.0.113.0/24"`))
	require.Eventually(t, has("max-body 2097152"), 20*time.Second, 20*time.Millisecond, "an edit is a new table")
	require.Eventually(t, func() bool { return pub.blocks() == 1 }, 20*time.Second, 20*time.Millisecond, "and a new proxy-wide configuration")

	write("cm.yaml", configMapYAML(`proxy-body-size: huge, upstream-keepalive-timeout: "10", block-cidrs: "203.0.113.0/24", nosuch-key: x`))
	require.Eventually(t, func() bool { return len(pub.reasons()) == 3 }, 20*time.Second, 20*time.Millisecond)
	assert.Equal(t, map[string]string{"data[proxy-body-size]": globalconfig.ReasonInvalidValue,
		"data[nosuch-key]": globalconfig.ReasonUnknownKey, "data[upstream-keepalive-timeout]": globalconfig.ReasonRestartRequired}, pub.reasons())
	assert.Contains(t, pub.get(), "max-body 2097152", "the last valid value stays")

	require.NoError(t, os.Remove(filepath.Join(dir, "cm.yaml")))
	require.Eventually(t, has("max-body 1048576"), 20*time.Second, 20*time.Millisecond, "without the ConfigMap, Weir's defaults")
}
