package tls

import (
	"crypto"
	"errors"
	"strings"
	"testing"
)

// FuzzParseKeyPair checks that no input panics, that an accepted pair is
// consistent, and that a rejected key is described only by one of the fixed
// sentinel errors, so nothing of tls.key can leak into an error. The committed
// corpus in testdata/fuzz holds garbage and public certificates only; valid
// key pairs are generated here at run time.
func FuzzParseKeyPair(f *testing.F) {
	ca := newTestCA(f)
	for _, kind := range []keyKind{keyECDSA, keyRSA, keyEd25519} {
		a := ca.issue(f, leafSpec{names: []string{"a.example.com"}, kind: kind})
		b := ca.issue(f, leafSpec{cn: "B.example.com", kind: kind})
		f.Add(a.certPEM, a.keyPEM)
		f.Add(a.certPEM, b.keyPEM)
		f.Add(b.certPEM, b.keyPEM)
		f.Add(a.certPEM[:len(a.certPEM)/2], a.keyPEM[:len(a.keyPEM)/2])
		f.Add(a.keyPEM, a.certPEM)
	}
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		c, err := ParseKeyPair(certPEM, keyPEM)
		if err != nil {
			if c != nil {
				t.Fatal("certificate returned with an error")
			}
			if _, _, chainErr := parseChain(certPEM); chainErr == nil && !isKeySentinel(err) {
				t.Fatalf("key error %q is not one of the fixed sentinels", err)
			}
			assertNoKeyMaterial(t, err, keyPEM)
			return
		}
		if c.Leaf() == nil || c.TLSCertificate().PrivateKey == nil || len(c.TLSCertificate().Certificate) == 0 {
			t.Fatal("accepted certificate is incomplete")
		}
		if !publicKeysEqual(c.Leaf().PublicKey, c.TLSCertificate().PrivateKey.(crypto.Signer).Public()) {
			t.Fatal("accepted a key that does not match the leaf")
		}
		for _, n := range c.Names() {
			if n != strings.ToLower(n) || strings.HasSuffix(n, ".") || n == "" {
				t.Fatalf("name %q is not normalised", n)
			}
		}
	})
}

func isKeySentinel(err error) bool {
	// A mismatch may name which certificate of tls.crt the key belongs to:
	// public information about tls.crt, nothing about the key.
	if errors.Is(err, ErrKeyMismatch) {
		return true
	}
	for _, s := range []error{ErrNoKey, ErrEncryptedKey, ErrKeyFormat, ErrUnsupportedKey} {
		if err == s { //nolint:errorlint // identity on purpose: no wrapping, no extra text
			return true
		}
	}
	return false
}

// FuzzLookup compares Snapshot.Lookup with a plain restatement of the rule:
// lower-case, drop one trailing dot, exact entry, else the entry for
// "*." + everything after the first label, else the default.
func FuzzLookup(f *testing.F) {
	ca := newTestCA(f)
	def := ca.parsed(f, leafSpec{names: []string{"default.local"}})
	exact := ca.parsed(f, leafSpec{names: []string{"www.example.com"}})
	wild := ca.parsed(f, leafSpec{names: []string{"*.example.com"}})
	entries := map[string]*Certificate{"www.example.com": exact, "*.example.com": wild, "example.com": exact, "*.a.example.com": wild}
	snap, err := NewSnapshot(def, entries)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", ".", "www.example.com", "WWW.example.com.", "x.example.com", "x.y.example.com", "b.a.EXAMPLE.com", "..example.com", "example.com.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sni string) {
		want := def
		name := strings.TrimSuffix(sni, ".")
		lower := strings.Map(func(r rune) rune {
			if 'A' <= r && r <= 'Z' {
				return r + 'a' - 'A'
			}
			return r
		}, name)
		if len(name) > 0 && len(name) <= maxHostLen {
			if c, ok := entries[lower]; ok && !strings.HasPrefix(lower, "*.") {
				want = c
			} else if i := strings.IndexByte(lower, '.'); i > 0 && i < len(lower)-1 {
				if c, ok := entries["*."+lower[i+1:]]; ok {
					want = c
				}
			}
		}
		if got := snap.Lookup(sni); got != want {
			t.Fatalf("Lookup(%q) = %v, want %v", sni, got.Names(), want.Names())
		}
	})
}
