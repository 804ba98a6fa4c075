package globalconfig

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// blocks reports whether c's block-cidrs name the client addr.
func blocks(c *Config, addr string) bool {
	a := netip.MustParseAddr(addr)
	for _, p := range c.Block.CIDRs {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// The proxy unmaps a client's address before it looks at block-cidrs, so
// an entry in the IPv4-mapped form must block the clients of its IPv4 form
// (a bare mapped address always did), not nobody.
func TestMappedBlockCIDRsBlockIPv4Clients(t *testing.T) {
	c, ps := Parse(map[string]string{"block-cidrs": "::ffff:203.0.113.0/120, ::ffff:198.51.100.7"})
	require.Empty(t, ps)
	assert.True(t, blocks(c, "203.0.113.9"), "%v", c.Block.CIDRs)
	assert.True(t, blocks(c, "198.51.100.7"), "%v", c.Block.CIDRs)
	assert.False(t, blocks(c, "198.51.100.8"), "%v", c.Block.CIDRs)
}

// One bad entry in a block list must not unblock the clients its valid
// entries name: falling back to the last valid value (or to nothing) would
// fail open. The valid entries join the last valid value.
func TestInvalidBlockListEntryKeepsTheValidOnes(t *testing.T) {
	c, ps := Parse(map[string]string{"block-cidrs": "203.0.113.0/24, 198.51.100.0/33"})
	require.Len(t, ps, 1)
	assert.Contains(t, ps[0].Message, "the valid entries of this one")
	assert.True(t, blocks(c, "203.0.113.9"), "one typo blocks nobody: %v", c.Block.CIDRs)

	var tr Tracker
	_, ps = tr.Apply(map[string]string{"block-cidrs": "192.0.2.0/24", "block-user-agents": "curl"})
	require.Empty(t, ps)
	c, ps = tr.Apply(map[string]string{"block-cidrs": "203.0.113.0/24,not-an-ip", "block-user-agents": "~*bot,~(unclosed"})
	require.Len(t, ps, 2)
	assert.True(t, blocks(c, "192.0.2.1"), "the last valid value stays")
	assert.True(t, blocks(c, "203.0.113.9"), "the new valid entry is added")
	require.Len(t, c.Block.UserAgents, 2)
	assert.True(t, c.Block.UserAgents[0].Match("curl"))
	assert.True(t, c.Block.UserAgents[1].Match("GoogleBot"))
}
