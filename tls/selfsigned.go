package tls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"
)

// Names of the generated default certificate. Like ingress-nginx's "fake
// certificate", it exists so that a TLS listener can always answer; clients
// are not expected to trust it.
const (
	DefaultCertificateCN  = "Weir Default Certificate"
	DefaultCertificateSAN = "ingress.local"
)

// selfSignedLifetime matches ingress-nginx's fake certificate (one year); it
// is regenerated at every start, so it never needs renewing in place.
const selfSignedLifetime = 365 * 24 * time.Hour

// SelfSigned generates the default certificate used when no
// --default-ssl-certificate is given: ECDSA P-256, self-signed, CN
// DefaultCertificateCN, SAN DefaultCertificateSAN, valid for one year from
// now (backdated an hour to tolerate clients with a slow clock).
func SelfSigned(now time.Time) (*Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating default certificate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generating default certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: DefaultCertificateCN, Organization: []string{"Weir"}},
		DNSNames:              []string{DefaultCertificateSAN},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedLifetime),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("signing default certificate: %w", err)
	}
	return newCertificate([][]byte{der}, key)
}
