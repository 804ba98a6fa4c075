package wire

import (
	"net/textproto"
	"testing"

	"github.com/stretchr/testify/assert"
)

// CanonicalKey must agree with textproto, which net/http uses, on every
// name: the header map's keys are what the rest of the proxy looks up.
func FuzzCanonicalKey(f *testing.F) {
	for _, s := range []string{"Content-Type", "content-type", "ETag", "X-Request-ID", "x-1abc", "1A",
		"Content-MD5", "X_foo", "-", "a--b", "Host", "HOST", "", "Sec-WebSocket-Key", "A b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := CanonicalKey(s), textproto.CanonicalMIMEHeaderKey(s); got != want {
			t.Fatalf("CanonicalKey(%q) = %q, textproto says %q", s, got, want)
		}
	})
}

func TestCanonicalKeyDoesNotAllocateForCommonNames(t *testing.T) {
	line := "Content-Type: text/plain"
	assert.Zero(t, testing.AllocsPerRun(100, func() { CanonicalKey(line[:12]) }))
	assert.Zero(t, testing.AllocsPerRun(100, func() { CanonicalKey("content-length") }))
}
