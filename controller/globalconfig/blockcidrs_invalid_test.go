package globalconfig

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInvalidBlockCIDREntryKeepsTheValidOnes: one bad entry in block-cidrs
// must not stop the valid ones from being enforced (today the whole key
// falls back to its default, blocking nobody).
func TestInvalidBlockCIDREntryKeepsTheValidOnes(t *testing.T) {
	c, ps := Parse(map[string]string{"block-cidrs": "203.0.113.0/24, 198.51.100.0/33"})
	require.NotEmpty(t, ps)
	blocked := false
	for _, p := range c.Block.CIDRs {
		blocked = blocked || p.Contains(netip.MustParseAddr("203.0.113.9"))
	}
	require.True(t, blocked, "block-cidrs with one typo blocks nobody: %v", c.Block.CIDRs)
}
