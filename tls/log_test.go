package tls

import (
	"io"
	"log"
	"time"
)

// quietLog keeps expected handshake failures out of test output.
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

// deadlineSoon bounds a read that is only there to surface a late alert.
func deadlineSoon() time.Time { return time.Now().Add(200 * time.Millisecond) }
