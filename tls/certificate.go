package tls

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Errors returned by ParseKeyPair and Certificate.CheckValidity. The
// controller maps them to a Problem reason with errors.Is; their text never
// contains key material.
var (
	ErrNoCertificate  = errors.New("no PEM certificate in tls.crt")
	ErrNoKey          = errors.New("no PEM private key in tls.key")
	ErrEncryptedKey   = errors.New("tls.key is encrypted; Secrets must hold an unencrypted key")
	ErrKeyFormat      = errors.New("tls.key is not a PKCS#1, PKCS#8 or SEC1 private key")
	ErrUnsupportedKey = errors.New("tls.key holds an unsupported key type (want RSA, ECDSA or Ed25519)")
	ErrKeyMismatch    = errors.New("tls.key does not match the certificate")
	ErrExpired        = errors.New("certificate expired")
	ErrNotYetValid    = errors.New("certificate is not valid yet")
)

// Certificate is a parsed, checked key pair. It is immutable once built and
// shared between snapshots and concurrent handshakes, which is why its parts
// are reached through methods rather than exported fields.
type Certificate struct {
	tls   *tls.Certificate
	leaf  *x509.Certificate
	names []string
}

// Leaf returns the parsed leaf certificate (the first block of tls.crt).
func (c *Certificate) Leaf() *x509.Certificate { return c.leaf }

// NotAfter returns the end of the leaf's validity period.
func (c *Certificate) NotAfter() time.Time { return c.leaf.NotAfter }

// Expired reports whether the leaf is past its NotAfter at now. An expired
// certificate is still served (as ingress-nginx does); the controller reports
// it and the expiry gauge shows it.
func (c *Certificate) Expired(now time.Time) bool { return now.After(c.leaf.NotAfter) }

// TLSCertificate returns the certificate as crypto/tls serves it, with the
// chain from tls.crt and Leaf filled in. Callers must not modify it.
func (c *Certificate) TLSCertificate() *tls.Certificate { return c.tls }

// Names returns the host names the certificate is for, lower-cased: its DNS
// SANs, or its Common Name only when it has no DNS SAN at all (clients ignore
// the CN when SANs exist, so we must too).
func (c *Certificate) Names() []string { return slices.Clone(c.names) }

// CheckValidity returns an error wrapping ErrExpired or ErrNotYetValid when
// now is outside the leaf's validity period, and nil otherwise.
func (c *Certificate) CheckValidity(now time.Time) error {
	if now.After(c.leaf.NotAfter) {
		return fmt.Errorf("%w at %s", ErrExpired, c.leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(c.leaf.NotBefore) {
		return fmt.Errorf("%w: valid from %s", ErrNotYetValid, c.leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// ParseKeyPair parses the tls.crt and tls.key values of a kubernetes.io/tls
// Secret: a PEM chain (leaf first, then intermediates; blocks of other types
// are skipped) and a PEM private key (PKCS#1, PKCS#8 or SEC1; RSA, ECDSA or
// Ed25519). It checks that the key belongs to the leaf. It does not reject an
// expired certificate; see CheckValidity.
func ParseKeyPair(certPEM, keyPEM []byte) (*Certificate, error) {
	chain, leaf, err := parseChain(certPEM)
	if err != nil {
		return nil, err
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, err
	}
	c, err := assemble(chain, leaf, key)
	if errors.Is(err, ErrKeyMismatch) {
		return nil, explainMismatch(chain, key)
	}
	return c, err
}

// explainMismatch says so when the key belongs to a later certificate of the
// chain, the usual cause being a tls.crt written CA first.
func explainMismatch(chain [][]byte, key crypto.Signer) error {
	for i, der := range chain[1:] {
		cert, err := x509.ParseCertificate(der)
		if err == nil && publicKeysEqual(cert.PublicKey, key.Public()) {
			return fmt.Errorf("%w: it matches certificate %d of tls.crt, but the leaf must come first", ErrKeyMismatch, i+2)
		}
	}
	return ErrKeyMismatch
}

// newCertificate builds a Certificate from a DER chain and its key, for
// certificates generated in process.
func newCertificate(chain [][]byte, key crypto.Signer) (*Certificate, error) {
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, fmt.Errorf("parsing generated certificate: %w", err)
	}
	return assemble(chain, leaf, key)
}

func assemble(chain [][]byte, leaf *x509.Certificate, key crypto.Signer) (*Certificate, error) {
	if !publicKeysEqual(leaf.PublicKey, key.Public()) {
		return nil, ErrKeyMismatch
	}
	return &Certificate{
		tls:   &tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf},
		leaf:  leaf,
		names: hostNames(leaf),
	}, nil
}

func parseChain(certPEM []byte) ([][]byte, *x509.Certificate, error) {
	var chain [][]byte
	var leaf *x509.Certificate
	rest := certPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("parsing certificate %d of tls.crt: %w", len(chain)+1, err)
		}
		if leaf == nil {
			leaf = cert
		}
		chain = append(chain, block.Bytes)
	}
	if leaf == nil {
		return nil, nil, ErrNoCertificate
	}
	return chain, leaf, nil
}

// parseKey returns the first private key in keyPEM. Its errors deliberately
// do not wrap the x509 parser's errors: those describe the DER they failed
// on, and nothing about a private key's bytes may reach a log or an Event.
func parseKey(keyPEM []byte) (crypto.Signer, error) {
	rest := keyPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, ErrNoKey
		}
		switch {
		case block.Type == "ENCRYPTED PRIVATE KEY", strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED"):
			return nil, ErrEncryptedKey
		case block.Type == "PRIVATE KEY" || strings.HasSuffix(block.Type, " PRIVATE KEY"):
			return parseKeyDER(block.Bytes)
		}
		// Other blocks (openssl's "EC PARAMETERS", a stray certificate) are
		// skipped, as crypto/tls.X509KeyPair does.
	}
}

// parseKeyDER tries every format rather than trusting the PEM type, because
// Secrets in the wild often carry PKCS#8 under "RSA PRIVATE KEY" and so on.
func parseKeyDER(der []byte) (crypto.Signer, error) {
	var key any
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		key = k
	} else if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		key = k
	} else if k, err := x509.ParseECPrivateKey(der); err == nil {
		key = k
	} else {
		return nil, ErrKeyFormat
	}
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	default:
		return nil, ErrUnsupportedKey
	}
}

func publicKeysEqual(certKey, keyPublic crypto.PublicKey) bool {
	pub, ok := certKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(keyPublic)
}

func hostNames(leaf *x509.Certificate) []string {
	src := leaf.DNSNames
	if len(src) == 0 && leaf.Subject.CommonName != "" {
		src = []string{leaf.Subject.CommonName}
	}
	names := make([]string, 0, len(src))
	for _, n := range src {
		n = strings.TrimSuffix(strings.ToLower(n), ".")
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names
}
