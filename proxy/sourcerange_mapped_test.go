package proxy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/annotations"
)

// TestMappedDenyRangesRefuseTheirClients: the proxy unmaps a client's
// address before it applies the source ranges (an IPv4 client on a
// dual-stack socket arrives as ::ffff:a.b.c.d), so a deny entry written in
// the IPv4-mapped form must name the same clients as its IPv4 form; a
// denylist that silently refuses nobody fails open.
func TestMappedDenyRangesRefuseTheirClients(t *testing.T) {
	for _, deny := range []string{"::ffff:127.0.0.1", "::ffff:127.0.0.0/104"} {
		cfg, ps := annotations.Parse(map[string]string{annotations.Prefix + "denylist-source-range": deny})
		require.Empty(t, ps)
		require.False(t, cfg.DenyAll)
		h := newHarness(t, Options{})
		rt := routeTo("a.test", "/", backendOf("a", named(t, "a")))
		rt.Action.SourceDeny = cfg.DenySourceRange
		h.publish(rt)
		code, _ := h.get("a.test", "/")
		assert.Equal(t, 403, code, "denylist-source-range %s does not refuse 127.0.0.1", deny)
	}
}
