package proxy

import (
	"os"
	"testing"

	"weir.dev/weir/proxy/wire"
)

// TestMain runs the package's tests with writes gathered
// (proxy/wire/gather.go), as Weir serves on one processor, so that every
// exchange they make also yields before each write that may wake its
// receiver.
func TestMain(m *testing.M) {
	wire.SetGatherWrites(true)
	os.Exit(m.Run())
}
