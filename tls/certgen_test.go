package tls

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

// Test certificates are generated at run time; no private key is committed.

type keyKind int

const (
	keyECDSA keyKind = iota
	keyRSA
	keyEd25519
)

func (k keyKind) String() string {
	return [...]string{"ecdsa", "rsa", "ed25519"}[k]
}

// rsaKey is generated once: 2048-bit RSA generation is slow under -race.
var rsaKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

func newKey(t testing.TB, kind keyKind) crypto.Signer {
	t.Helper()
	switch kind {
	case keyRSA:
		return rsaKey
	case keyEd25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	default:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
}

// testCA signs leaf certificates.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key := newKey(t, keyECDSA)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Weir Test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// intermediate returns a CA signed by ca.
func (ca *testCA) intermediate(t testing.TB) *testCA {
	t.Helper()
	key := newKey(t, keyECDSA)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: "Weir Test Intermediate"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// leafSpec describes a leaf certificate for issue.
type leafSpec struct {
	cn        string
	names     []string
	kind      keyKind
	notBefore time.Time // zero: an hour ago
	notAfter  time.Time // zero: in a day
	client    bool      // client-auth usage instead of server-auth
}

// issued is a leaf as it would sit in a kubernetes.io/tls Secret.
type issued struct {
	certPEM []byte // leaf then CA
	keyPEM  []byte // PKCS#8
	key     crypto.Signer
	serial  *big.Int
}

func (ca *testCA) issue(t testing.TB, spec leafSpec) issued {
	t.Helper()
	key := newKey(t, spec.kind)
	if spec.notBefore.IsZero() {
		spec.notBefore = time.Now().Add(-time.Hour)
	}
	if spec.notAfter.IsZero() {
		spec.notAfter = time.Now().Add(24 * time.Hour)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	usage := x509.ExtKeyUsageServerAuth
	if spec.client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: spec.cn},
		DNSNames:     spec.names,
		NotBefore:    spec.notBefore,
		NotAfter:     spec.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return issued{
		certPEM: append(certPEM, ca.pem...),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		key:     key,
		serial:  serial,
	}
}

// parsed issues a leaf and parses it, failing the test on error.
func (ca *testCA) parsed(t testing.TB, spec leafSpec) *Certificate {
	t.Helper()
	is := ca.issue(t, spec)
	c, err := ParseKeyPair(is.certPEM, is.keyPEM)
	if err != nil {
		t.Fatalf("ParseKeyPair: %v", err)
	}
	return c
}
