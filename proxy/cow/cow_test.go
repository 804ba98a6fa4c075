package cow

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCopyOnWrite: writes and appends through a derived copy leave the
// original as it was, share the chunks not written, and read back as a
// plain slice with the same writes would.
func TestCopyOnWrite(t *testing.T) {
	for _, n := range []int{0, 1, chunkLen - 1, chunkLen, 3*chunkLen + 7} {
		orig := make([]int, n)
		for i := range orig {
			orig[i] = i
		}
		base := Of(slices.Clone(orig))
		c := base
		w := c.Derive()
		want := slices.Clone(orig)
		if n > 0 {
			w.Set(n-1, -1)
			want[n-1] = -1
		}
		for i := range chunkLen + 3 {
			w.Append(1000 + i)
			want = append(want, 1000+i)
		}
		require.Equal(t, n, base.Len())
		for i := range n {
			require.Equal(t, orig[i], base.At(i), "n=%d: the original is unchanged at %d", n, i)
		}
		require.Equal(t, len(want), c.Len())
		var got []int
		for i, v := range c.All() {
			require.Equal(t, len(got), i)
			got = append(got, v)
		}
		require.Equal(t, want, got, "n=%d", n)
		for k := 0; k < len(base.c)-1; k++ {
			require.Same(t, &base.c[k][0], &c.c[k][0], "n=%d: chunk %d is shared", n, k)
		}
	}
}
