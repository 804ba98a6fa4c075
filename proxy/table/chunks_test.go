package table

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestChunksCopyOnWrite: writes and appends through a derived copy leave
// the original as it was, share the chunks not written, and read back as
// a plain slice with the same writes would.
func TestChunksCopyOnWrite(t *testing.T) {
	for _, n := range []int{0, 1, chunkLen - 1, chunkLen, 3*chunkLen + 7} {
		orig := make([]int, n)
		for i := range orig {
			orig[i] = i
		}
		base := chunksOf(slices.Clone(orig))
		c := base
		w := c.derive()
		want := slices.Clone(orig)
		if n > 0 {
			w.set(n-1, -1)
			want[n-1] = -1
		}
		for i := range chunkLen + 3 {
			w.append(1000 + i)
			want = append(want, 1000+i)
		}
		require.Equal(t, n, base.len())
		for i := range n {
			require.Equal(t, orig[i], base.at(i), "n=%d: the original is unchanged at %d", n, i)
		}
		require.Equal(t, len(want), c.len())
		for i := range want {
			require.Equal(t, want[i], c.at(i), "n=%d: %d", n, i)
		}
		for k := 0; k < len(base.c)-1; k++ {
			require.Same(t, &base.c[k][0], &c.c[k][0], "n=%d: chunk %d is shared", n, k)
		}
	}
}
