package tls

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"io"
	"sync"
	"time"
)

// DefaultTicketRotation is how often TicketKeys makes a new session-ticket
// key when no interval is given.
const DefaultTicketRotation = time.Hour

// ticketKeysKept is how many keys decrypt tickets: the current one, which
// also encrypts, and the two before it. With the default interval a ticket
// resumes for two to three hours, close to nginx's ssl_session_timeout.
const ticketKeysKept = 3

// TicketKeys owns the session-ticket keys of the server configs it is
// applied to and rotates them.
//
// It does not set keys on the served *tls.Config directly: net/http's
// ServeTLS (and httptest) clone the config, and a clone no longer follows
// SetSessionTicketKeys on the original. Instead the keys live on a private
// config and the served config's WrapSession/UnwrapSession delegate to it;
// those fields survive any number of clones.
type TicketKeys struct {
	every time.Duration
	rand  io.Reader

	mu   sync.Mutex // serialises rotations; handshakes never take it
	keys [][32]byte // newest first
	ring *tls.Config
}

// NewTicketKeys returns a rotator that holds one fresh key. every is the
// rotation interval (DefaultTicketRotation when zero or negative). Call Run to
// rotate in the background.
func NewTicketKeys(every time.Duration) (*TicketKeys, error) {
	if every <= 0 {
		every = DefaultTicketRotation
	}
	k := &TicketKeys{every: every, rand: rand.Reader, ring: &tls.Config{}}
	if err := k.Rotate(); err != nil {
		return nil, err
	}
	return k, nil
}

// Rotate makes a new key the encrypting key now; the previous keys still
// decrypt until they fall off the end of the ring.
func (k *TicketKeys) Rotate() error {
	var key [32]byte
	if _, err := io.ReadFull(k.rand, key[:]); err != nil {
		return fmt.Errorf("generating session ticket key: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	keys := make([][32]byte, 0, ticketKeysKept)
	keys = append(keys, key)
	keys = append(keys, k.keys[:min(len(k.keys), ticketKeysKept-1)]...)
	k.keys = keys
	k.ring.SetSessionTicketKeys(keys)
	return nil
}

// Run rotates every interval until ctx is done. A failed rotation keeps the
// current keys (still valid) and is retried at the next tick; onError, if not
// nil, hears about it.
func (k *TicketKeys) Run(ctx context.Context, onError func(error)) {
	t := time.NewTicker(k.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := k.Rotate(); err != nil && onError != nil {
				onError(err)
			}
		}
	}
}

// apply makes cfg encrypt and decrypt tickets with k's keys.
func (k *TicketKeys) apply(cfg *tls.Config) {
	cfg.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		return k.ring.EncryptTicket(cs, ss)
	}
	cfg.UnwrapSession = func(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		return k.ring.DecryptTicket(identity, cs)
	}
}

// keyCount is for tests.
func (k *TicketKeys) keyCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.keys)
}
