package tls

import (
	"crypto/tls"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// maxHostLen is the longest DNS name (RFC 1035); longer SNI values cannot
// match an entry, which lets lookups lower-case into a stack buffer.
const maxHostLen = 253

// Snapshot is an immutable mapping from host name to certificate, plus the
// default certificate served when nothing matches. Build one with
// NewSnapshot or a Builder and publish it with Store.Swap.
type Snapshot struct {
	def *Certificate
	// exact is keyed by lower-case host; wildcard by the parent domain of a
	// "*.parent" entry, so a lookup costs one cut at the first dot.
	exact    map[string]*Certificate
	wildcard map[string]*Certificate
	// clientCAs: the hosts whose handshakes ask for a client certificate
	// (see clientCAs in clientauth_server.go); nil when none.
	clientCAs *hostCAs
}

// Default returns the certificate served when no entry matches.
func (s *Snapshot) Default() *Certificate { return s.def }

// Len returns the number of host entries, exact and wildcard.
func (s *Snapshot) Len() int { return len(s.exact) + len(s.wildcard) }

// Lookup returns the certificate for a server name as GetCertificate chooses
// it: exact host, then one-label wildcard, then the default. It ignores case
// and one trailing dot, and does not allocate.
func (s *Snapshot) Lookup(serverName string) *Certificate {
	name := strings.TrimSuffix(serverName, ".")
	if name == "" || len(name) > maxHostLen {
		return s.def
	}
	var buf [maxHostLen]byte
	if hasUpper(name) {
		// string(b) in a map index does not allocate.
		b := buf[:len(name)]
		for i := 0; i < len(name); i++ {
			b[i] = lowerASCII(name[i])
		}
		return s.lookupLower(b)
	}
	if c, ok := s.exact[name]; ok {
		return c
	}
	if i := strings.IndexByte(name, '.'); i > 0 && i < len(name)-1 {
		if c, ok := s.wildcard[name[i+1:]]; ok {
			return c
		}
	}
	return s.def
}

func (s *Snapshot) lookupLower(b []byte) *Certificate {
	if c, ok := s.exact[string(b)]; ok {
		return c
	}
	for i, ch := range b {
		if ch == '.' {
			if i > 0 && i < len(b)-1 {
				if c, ok := s.wildcard[string(b[i+1:])]; ok {
					return c
				}
			}
			break
		}
	}
	return s.def
}

// Expiry is one host's certificate expiry, the data behind the
// weir_ssl_certificate_expiry_seconds gauge.
type Expiry struct {
	Host     string // as keyed in the snapshot, "*.example.com" for wildcards
	NotAfter time.Time
}

// Expiries lists every host entry's NotAfter, sorted by host. The default
// certificate is not listed; use Default().NotAfter().
func (s *Snapshot) Expiries() []Expiry {
	out := make([]Expiry, 0, s.Len())
	for h, c := range s.exact {
		out = append(out, Expiry{Host: h, NotAfter: c.NotAfter()})
	}
	for parent, c := range s.wildcard {
		out = append(out, Expiry{Host: "*." + parent, NotAfter: c.NotAfter()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Host < out[j].Host })
	return out
}

// Builder assembles a Snapshot one host at a time, so that a bad host name
// costs only its own entry (the controller reports it as a problem). A host
// whose Secret did not parse is simply not added: it falls back to the
// default certificate, as the issue asks.
type Builder struct {
	snap *Snapshot
}

// NewBuilder starts a snapshot whose default certificate is def.
func NewBuilder(def *Certificate) *Builder {
	return &Builder{snap: &Snapshot{
		def:      def,
		exact:    make(map[string]*Certificate),
		wildcard: make(map[string]*Certificate),
	}}
}

// Add maps host ("www.example.com" or "*.example.com") to cert, replacing any
// earlier entry for the same host. Host names are lower-cased and one
// trailing dot is removed.
func (b *Builder) Add(host string, cert *Certificate) error {
	if cert == nil {
		return fmt.Errorf("host %q: nil certificate", host)
	}
	h, wildcard, err := normalizeHost(host)
	if err != nil {
		return err
	}
	if wildcard {
		b.snap.wildcard[h] = cert
	} else {
		b.snap.exact[h] = cert
	}
	return nil
}

// Snapshot returns the built snapshot. The builder must not be used after.
func (b *Builder) Snapshot() (*Snapshot, error) {
	if b.snap.def == nil {
		return nil, errors.New("snapshot has no default certificate")
	}
	s := b.snap
	b.snap = nil
	return s, nil
}

// NewSnapshot builds a snapshot from a host -> certificate map. Any invalid
// host makes it fail as a whole; use a Builder to skip bad hosts instead.
func NewSnapshot(defaultCert *Certificate, entries map[string]*Certificate) (*Snapshot, error) {
	b := NewBuilder(defaultCert)
	var errs []error
	for h, c := range entries {
		if err := b.Add(h, c); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("building certificate snapshot: %w", errors.Join(errs...))
	}
	return b.Snapshot()
}

// normalizeHost returns the map key for host and whether it is a wildcard;
// for "*.example.com" the key is "example.com".
func normalizeHost(host string) (string, bool, error) {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	wildcard := strings.HasPrefix(h, "*.")
	if wildcard {
		h = h[2:]
	}
	if h == "" || len(h) > maxHostLen {
		return "", false, fmt.Errorf("host %q: not a valid host name", host)
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || strings.ContainsAny(label, "*/:[] ") || !isASCII(label) {
			return "", false, fmt.Errorf("host %q: not a valid host name (only one leading \"*.\" label may be a wildcard)", host)
		}
	}
	return h, wildcard, nil
}

// isASCII rejects U-labels: SNI carries host names in their ASCII (punycode)
// form only, so an entry like "bücher.de" could never match.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// Store publishes the current Snapshot to handshakes. Reads are one atomic
// load: a handshake never takes a lock and never waits on the controller.
type Store struct {
	cur atomic.Pointer[Snapshot]
}

// NewStore returns a store serving initial.
func NewStore(initial *Snapshot) *Store {
	s := &Store{}
	s.cur.Store(initial)
	return s
}

// Load returns the snapshot in service (nil if none was ever published).
func (s *Store) Load() *Snapshot { return s.cur.Load() }

// Swap publishes next and returns the snapshot it replaced. Handshakes that
// start afterwards see next; established connections keep the certificate
// they were handshaken with, as TLS does not re-authenticate. A nil next is
// ignored, so a failed build can never take the last good snapshot away.
func (s *Store) Swap(next *Snapshot) *Snapshot {
	if next == nil {
		return s.cur.Load()
	}
	return s.cur.Swap(next)
}

// errNoSnapshot is returned only before the first Swap; crypto/tls turns it
// into a handshake alert.
var errNoSnapshot = errors.New("weir tls: no certificate snapshot published yet")

// GetCertificate is crypto/tls.Config.GetCertificate: it chooses by SNI
// (exact host, then one-label wildcard, then default; no SNI: default).
func (s *Store) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	snap := s.cur.Load()
	if snap == nil {
		return nil, errNoSnapshot
	}
	return snap.Lookup(hello.ServerName).TLSCertificate(), nil
}
