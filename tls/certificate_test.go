package tls

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reencodeKey returns key in the given PEM format.
func reencodeKey(t *testing.T, is issued, format string) []byte {
	t.Helper()
	var block *pem.Block
	switch format {
	case "pkcs8":
		return is.keyPEM
	case "pkcs1":
		block = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(is.key.(*rsa.PrivateKey))}
	case "sec1":
		der, err := x509.MarshalECPrivateKey(is.key.(*ecdsa.PrivateKey))
		require.NoError(t, err)
		// openssl writes an EC PARAMETERS block first; it must be skipped.
		params := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}})
		return append(params, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})...)
	case "pkcs8-mislabelled":
		b, _ := pem.Decode(is.keyPEM)
		block = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: b.Bytes}
	default:
		t.Fatalf("unknown format %q", format)
	}
	return pem.EncodeToMemory(block)
}

func TestParseKeyPairFormats(t *testing.T) {
	ca := newTestCA(t)
	tests := []struct {
		kind   keyKind
		format string
	}{
		{keyRSA, "pkcs1"},
		{keyRSA, "pkcs8"},
		{keyRSA, "pkcs8-mislabelled"},
		{keyECDSA, "sec1"},
		{keyECDSA, "pkcs8"},
		{keyEd25519, "pkcs8"},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String()+"/"+tt.format, func(t *testing.T) {
			is := ca.issue(t, leafSpec{cn: "ignored", names: []string{"Www.Example.com", "example.com."}, kind: tt.kind})
			c, err := ParseKeyPair(is.certPEM, reencodeKey(t, is, tt.format))
			require.NoError(t, err)
			assert.Equal(t, []string{"www.example.com", "example.com"}, c.Names())
			assert.Len(t, c.TLSCertificate().Certificate, 2, "chain keeps the intermediate")
			assert.Same(t, c.Leaf(), c.TLSCertificate().Leaf)
			assert.Equal(t, is.serial, c.Leaf().SerialNumber)
			assert.False(t, c.Expired(time.Now()))
			assert.NoError(t, c.CheckValidity(time.Now()))
		})
	}
}

func TestParseKeyPairErrors(t *testing.T) {
	ca := newTestCA(t)
	a := ca.issue(t, leafSpec{names: []string{"a.example.com"}})
	b := ca.issue(t, leafSpec{names: []string{"b.example.com"}, kind: keyEd25519})
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}})
	legacyEncrypted := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{1, 2, 3}})
	garbageKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not a key at all, definitely")})
	tests := []struct {
		name      string
		cert, key []byte
		want      error
		wantText  string
	}{
		{name: "empty cert", cert: nil, key: a.keyPEM, want: ErrNoCertificate, wantText: "no PEM certificate in tls.crt"},
		{name: "garbage cert", cert: []byte("hello\n-----BEGIN NOTHING"), key: a.keyPEM, want: ErrNoCertificate},
		{name: "key only in tls.crt", cert: a.keyPEM, key: a.keyPEM, want: ErrNoCertificate},
		{name: "corrupt certificate DER", cert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x03, 1, 2, 3}}), key: a.keyPEM, wantText: "parsing certificate 1 of tls.crt"},
		{name: "empty key", cert: a.certPEM, key: nil, want: ErrNoKey},
		{name: "certificate as key", cert: a.certPEM, key: a.certPEM, want: ErrNoKey},
		{name: "garbage key", cert: a.certPEM, key: garbageKey, want: ErrKeyFormat},
		{name: "encrypted pkcs8", cert: a.certPEM, key: encrypted, want: ErrEncryptedKey},
		{name: "encrypted legacy", cert: a.certPEM, key: legacyEncrypted, want: ErrEncryptedKey},
		{name: "mismatch", cert: a.certPEM, key: b.keyPEM, want: ErrKeyMismatch, wantText: "tls.key does not match the certificate"},
		{name: "leaf not first", cert: append(append([]byte{}, ca.pem...), a.certPEM...), key: a.keyPEM, want: ErrKeyMismatch, wantText: "matches certificate 2 of tls.crt, but the leaf must come first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseKeyPair(tt.cert, tt.key)
			require.Error(t, err)
			assert.Nil(t, c)
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
			}
			assert.Contains(t, err.Error(), tt.wantText)
			assertNoKeyMaterial(t, err, tt.key)
		})
	}
}

// assertNoKeyMaterial fails if err's text holds any line of a PEM key body.
func assertNoKeyMaterial(t testing.TB, err error, keyPEM []byte) {
	t.Helper()
	if err == nil {
		return
	}
	for _, line := range strings.Split(string(keyPEM), "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(err.Error(), line) {
			t.Fatalf("error %q contains key material", err)
		}
	}
}

func TestExpiredCertificateParses(t *testing.T) {
	ca := newTestCA(t)
	notAfter := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	c := ca.parsed(t, leafSpec{names: []string{"old.example.com"}, notBefore: notAfter.Add(-48 * time.Hour), notAfter: notAfter})

	assert.True(t, c.Expired(time.Now()))
	assert.False(t, c.Expired(notAfter.Add(-time.Second)))
	assert.Equal(t, notAfter, c.NotAfter())
	err := c.CheckValidity(time.Now())
	assert.ErrorIs(t, err, ErrExpired)
	assert.EqualError(t, err, "certificate expired at 2024-03-01T12:00:00Z")

	err = c.CheckValidity(notAfter.Add(-72 * time.Hour))
	assert.ErrorIs(t, err, ErrNotYetValid)
}

func TestNames(t *testing.T) {
	ca := newTestCA(t)
	tests := []struct {
		name  string
		spec  leafSpec
		names []string
	}{
		{"SANs win over CN", leafSpec{cn: "cn.example.com", names: []string{"san.example.com"}}, []string{"san.example.com"}},
		{"no SAN falls back to CN", leafSpec{cn: "CN.Example.com"}, []string{"cn.example.com"}},
		{"neither", leafSpec{}, []string{}},
		{"wildcard and duplicates", leafSpec{names: []string{"*.example.com", "*.EXAMPLE.com", "example.com"}}, []string{"*.example.com", "example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ca.parsed(t, tt.spec)
			assert.Equal(t, tt.names, c.Names())
		})
	}
}

func TestNamesReturnsCopy(t *testing.T) {
	c := newTestCA(t).parsed(t, leafSpec{names: []string{"a.example.com"}})
	c.Names()[0] = "evil.example.com"
	assert.Equal(t, []string{"a.example.com"}, c.Names())
}

func TestSelfSigned(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c, err := SelfSigned(now)
	require.NoError(t, err)
	assert.Equal(t, DefaultCertificateCN, c.Leaf().Subject.CommonName)
	assert.Equal(t, []string{DefaultCertificateSAN}, c.Names())
	assert.Equal(t, now.Add(365*24*time.Hour), c.NotAfter())
	assert.NoError(t, c.CheckValidity(now))
	assert.True(t, c.Expired(now.Add(366*24*time.Hour)))
	_, isECDSA := c.TLSCertificate().PrivateKey.(*ecdsa.PrivateKey)
	assert.True(t, isECDSA)
	// It verifies against itself, which is all a self-signed certificate can do.
	pool := x509.NewCertPool()
	pool.AddCert(c.Leaf())
	_, err = c.Leaf().Verify(x509.VerifyOptions{DNSName: DefaultCertificateSAN, Roots: pool, CurrentTime: now})
	assert.NoError(t, err)

	other, err := SelfSigned(now)
	require.NoError(t, err)
	assert.NotEqual(t, c.Leaf().SerialNumber, other.Leaf().SerialNumber)
}
