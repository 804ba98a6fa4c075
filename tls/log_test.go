package tls

import (
	"io"
	"log"
)

// quietLog keeps expected handshake failures out of test output.
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }
