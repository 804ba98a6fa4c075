package globalconfig

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMappedBlockCIDRsBlockIPv4Clients: the proxy unmaps a client's
// address before it looks at block-cidrs; an entry in the IPv4-mapped form
// must block the same clients as its IPv4 form (a bare mapped address
// already does), not nobody.
func TestMappedBlockCIDRsBlockIPv4Clients(t *testing.T) {
	c, ps := Parse(map[string]string{"block-cidrs": "::ffff:203.0.113.0/120"})
	require.Empty(t, ps)
	client := netip.MustParseAddr("203.0.113.9")
	blocked := false
	for _, p := range c.Block.CIDRs {
		blocked = blocked || p.Contains(client)
	}
	require.True(t, blocked, "block-cidrs %v does not block %s", c.Block.CIDRs, client)
}
