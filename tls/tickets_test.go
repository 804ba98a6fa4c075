package tls

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// handshake opens a TLS connection, makes one request so that a TLS 1.3
// ticket (sent after the handshake) reaches the client's cache, and reports
// whether the session was resumed.
func handshake(t *testing.T, addr string, cfg *tls.Config) bool {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, cfg)
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "GET / HTTP/1.1\r\nHost: "+testHost+"\r\nConnection: close\r\n\r\n")
	require.NoError(t, err)
	_, err = io.ReadAll(conn)
	require.NoError(t, err)
	return conn.ConnectionState().DidResume
}

func TestSessionTicketsSurviveOneRotation(t *testing.T) {
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			ca := newTestCA(t)
			snap, err := NewSnapshot(ca.parsed(t, leafSpec{names: []string{testHost}}), nil)
			require.NoError(t, err)
			keys, err := NewTicketKeys(time.Hour)
			require.NoError(t, err)
			// serveTLS uses ServeTLS, which clones the config: rotation must
			// still reach the clone.
			addr := serveTLS(t, ServerConfig(NewStore(snap), Options{TicketKeys: keys}), true)

			cfg := clientConfig(ca, testHost)
			cfg.MaxVersion = version
			cfg.NextProtos = []string{"http/1.1"}
			cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)

			require.False(t, handshake(t, addr, cfg), "first handshake is full")
			require.NoError(t, keys.Rotate())
			assert.True(t, handshake(t, addr, cfg), "a ticket from the previous key still resumes")

			// The resumed handshake left a ticket under the current key; once
			// that key has aged out of the ring the ticket is refused and the
			// handshake falls back to a full one.
			for range ticketKeysKept {
				require.NoError(t, keys.Rotate())
			}
			assert.False(t, handshake(t, addr, cfg), "a ticket older than the ring is refused")
			assert.True(t, handshake(t, addr, cfg), "and the new ticket resumes again")
		})
	}
}

func TestTicketKeysRing(t *testing.T) {
	keys, err := NewTicketKeys(0)
	require.NoError(t, err)
	assert.Equal(t, DefaultTicketRotation, keys.every)
	assert.Equal(t, 1, keys.keyCount())
	first := keys.keys[0]
	for range 5 {
		require.NoError(t, keys.Rotate())
	}
	assert.Equal(t, ticketKeysKept, keys.keyCount())
	assert.NotEqual(t, first, keys.keys[0])
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("entropy exhausted") }

func TestTicketKeysRunRotatesAndStops(t *testing.T) {
	keys, err := NewTicketKeys(time.Millisecond)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		keys.Run(ctx, func(err error) { t.Errorf("rotation failed: %v", err) })
		close(done)
	}()
	require.Eventually(t, func() bool { return keys.keyCount() == ticketKeysKept }, 10*time.Second, time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop when its context was cancelled")
	}
}

func TestTicketKeysRotateFailureKeepsKeys(t *testing.T) {
	keys, err := NewTicketKeys(time.Hour)
	require.NoError(t, err)
	before := keys.keys[0]
	keys.rand = failingReader{}
	require.Error(t, keys.Rotate())
	assert.Equal(t, before, keys.keys[0])
	assert.Equal(t, 1, keys.keyCount())
}
