package tls

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// crlCA is a test CA that may sign CRLs.
func crlCA(t *testing.T) *testCA {
	t.Helper()
	key := newKey(t, keyECDSA)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Weir CRL CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// crlPEM is a CRL of ca listing serials, valid from thisUpdate to
// nextUpdate.
func crlPEM(t *testing.T, ca *testCA, thisUpdate, nextUpdate time.Time, serials ...*big.Int) []byte {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: thisUpdate, NextUpdate: nextUpdate}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: s, RevocationTime: thisUpdate})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
}

func TestRevokedClientCertificatesAreRefusedThroughARealListener(t *testing.T) {
	ca, other := crlCA(t), crlCA(t)
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	alice := ca.parsed(t, leafSpec{cn: "alice", client: true})
	bob := ca.parsed(t, leafSpec{cn: "bob", client: true})
	now := time.Now()
	revokesAlice := crlPEM(t, ca, now.Add(-time.Hour), now.Add(time.Hour), alice.TLSCertificate().Leaf.SerialNumber)
	// Two lists of one CA (a new one appended while the old one is still
	// valid, or after it expired) are read as OpenSSL, and so nginx, reads
	// them: the list valid now, and of those the newest. Weir took the
	// first, so an older list hid a newer revocation, and an expired list
	// first refused every client.
	older := crlPEM(t, ca, now.Add(-2*time.Hour), now.Add(time.Hour))
	expired := crlPEM(t, ca, now.Add(-3*time.Hour), now.Add(-time.Hour))
	both := func(a, b []byte) []byte { return append(append([]byte{}, a...), b...) }

	for _, tc := range []struct {
		name     string
		crl      []byte
		cert     *Certificate
		wantBody string
	}{
		{"revoked", revokesAlice, alice, "FAILED:certificate revoked alice"},
		{"not revoked", revokesAlice, bob, "SUCCESS bob"},
		{"expired list", crlPEM(t, ca, now.Add(-2*time.Hour), now.Add(-time.Hour)), bob, "FAILED:CRL has expired bob"},
		{"future list", crlPEM(t, ca, now.Add(time.Hour), now.Add(2*time.Hour)), bob, "FAILED:CRL is not yet valid bob"},
		{"list of another CA only", crlPEM(t, other, now.Add(-time.Hour), now.Add(time.Hour)), bob, "FAILED:unable to get certificate CRL bob"},
		{"lists of both", append(crlPEM(t, other, now.Add(-time.Hour), now.Add(time.Hour)), revokesAlice...), bob, "SUCCESS bob"},
		{"an older list of the CA first", both(older, revokesAlice), alice, "FAILED:certificate revoked alice"},
		{"an older list of the CA last", both(revokesAlice, older), alice, "FAILED:certificate revoked alice"},
		{"an expired list of the CA first", both(expired, revokesAlice), bob, "SUCCESS bob"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			crls, err := ParseCRLs(tc.crl)
			require.NoError(t, err)
			policy := &ClientAuth{Mode: VerifyOn, Roots: roots, Depth: 1, CRL: crls}
			status, body := ask(t, serveClientAuth(t, ca, policy), clientWith(ca, mtlsHost, tc.cert))
			assert.Equal(t, tc.wantBody, body)
			if tc.wantBody[:7] == "SUCCESS" {
				assert.Equal(t, 200, status)
			} else {
				assert.Equal(t, 400, status)
			}
		})
	}
}

func TestParseCRLsRefusesWhatItCannotRead(t *testing.T) {
	ca := crlCA(t)
	good := crlPEM(t, ca, time.Now(), time.Now().Add(time.Hour))
	for name, data := range map[string][]byte{
		"empty":         nil,
		"spaces":        []byte(" \n"),
		"not PEM":       []byte("revoked: alice"),
		"a certificate": ca.pem,
		"trailing junk": append(append([]byte{}, good...), "junk"...),
		"bad DER":       pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: []byte{0x30, 0x01}}),
	} {
		_, err := ParseCRLs(data)
		assert.Error(t, err, name)
	}
	crls, err := ParseCRLs(append(append([]byte{}, good...), good...))
	require.NoError(t, err)
	assert.Equal(t, 2, crls.Len())
}

// FuzzParseCRLs: whatever ca.crl holds, parsing returns lists or an error,
// never a policy with no list.
func FuzzParseCRLs(f *testing.F) {
	f.Add([]byte("-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n"))
	f.Add([]byte("junk"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCRLs(data)
		if (err == nil) != (c != nil && c.Len() > 0) {
			t.Fatalf("err=%v crls=%v", err, c)
		}
	})
}
