package wire

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestTokensSplitListsAcrossLines(t *testing.T) {
	got := slices.Collect(Tokens([]string{"keep-alive , Upgrade", "\tclose\t", ",x,"}))
	assert.Equal(t, []string{"keep-alive", "Upgrade", "close", "", "x", ""}, got, "empty elements are kept")
	assert.True(t, HasToken([]string{"a, UPGRADE"}, "upgrade"), "case-insensitive")
	assert.False(t, HasToken([]string{"upgrades, up grade"}, "upgrade"), "whole elements only")
	assert.False(t, HasToken(nil, "close"))
}

func TestTokensDoNotAllocate(t *testing.T) {
	vals := []string{"keep-alive, Upgrade", "close"}
	n := testing.AllocsPerRun(100, func() {
		if !HasToken(vals, "close") {
			t.Fatal("close not found")
		}
	})
	assert.Zero(t, n)
}

func TestContentLengthIsDigitsOnlyAndAgreed(t *testing.T) {
	for _, bad := range [][]string{{""}, {"+5"}, {"5, 5"}, {"0x5"}, {"5", "6"}, {"1234567890123456789"}} {
		_, err := ContentLength(bad)
		assert.ErrorIs(t, err, ErrMalformed, "%q", bad)
	}
	n, err := ContentLength([]string{"42", "42"})
	assert.NoError(t, err)
	assert.EqualValues(t, 42, n)
	n, err = ContentLength(nil)
	assert.NoError(t, err)
	assert.EqualValues(t, -1, n)
}

func TestSplitFieldRefusesWhatCouldSplitAHead(t *testing.T) {
	k, v, err := SplitField("x-a:  v \t")
	assert.NoError(t, err)
	assert.Equal(t, "X-A", k)
	assert.Equal(t, "v", v)
	for _, bad := range []string{"X-A : v", " X-A: v", ":v", "X-A: a\x00b", "X-A: a\rb", "X A: v"} {
		_, _, err := SplitField(bad)
		assert.ErrorIs(t, err, ErrMalformed, "%q", bad)
	}
}

func TestAddVaryNeverWritesToItsArgument(t *testing.T) {
	shared := make([]string, 1, 4)
	shared[0] = "Cookie"
	got := AddVary(shared, "Origin")
	assert.Equal(t, []string{"Cookie", "Origin"}, got)
	assert.Equal(t, "", shared[:2][1], "the spare capacity of the argument is left alone")
	assert.Equal(t, []string{"accept-encoding"}, AddVary([]string{"accept-encoding"}, "Accept-Encoding"))
	assert.Equal(t, []string{"*"}, AddVary([]string{"*"}, "Origin"))
	assert.Equal(t, []string{"Origin"}, AddVary(nil, "Origin"))
}
