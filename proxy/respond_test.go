package proxy

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMergeVary(t *testing.T) {
	for _, c := range []struct{ endpoint, ours, want []string }{
		{[]string{"Accept-Encoding"}, []string{"Origin"}, []string{"Accept-Encoding", "Origin"}},
		{[]string{"accept-encoding, origin"}, []string{"Origin"}, []string{"accept-encoding, origin"}},
		{[]string{"*"}, []string{"Origin"}, []string{"*"}},
		{[]string{"Cookie"}, []string{"Origin, Accept-Encoding", ""}, []string{"Cookie", "Origin", "Accept-Encoding"}},
	} {
		endpoint := append([]string(nil), c.endpoint...)
		assert.Equal(t, c.want, mergeVary(endpoint, c.ours), "%q + %q", c.endpoint, c.ours)
		assert.Equal(t, c.endpoint, endpoint, "the endpoint's header is not changed in place")
	}
}
