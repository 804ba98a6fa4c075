package localcluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// writePKI writes a CA and, signed by it, kube-apiserver's serving
// certificate, the kubelet's serving certificate and the client certificate
// kube-apiserver presents to the kubelet; plus the service-account signing
// key pair.
func writePKI(l layout) error {
	caKey, caCert, caDER, err := newCA(l.name)
	if err != nil {
		return err
	}
	if err := writePEM(l.path("ca.crt"), "CERTIFICATE", caDER); err != nil {
		return err
	}
	bridge := net.IP(l.bridgeAddr.AsSlice())
	certs := []*x509.Certificate{{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "apiserver"},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), bridge, net.ParseIP("10.96.0.1")},
	}, {
		SerialNumber: big.NewInt(3),
		Subject:      pkix.Name{CommonName: "kubelet"},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{bridge},
	}, {
		SerialNumber: big.NewInt(4),
		Subject:      pkix.Name{CommonName: "kubelet-client", Organization: []string{"system:masters"}},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}}
	for _, tmpl := range certs {
		if err := issue(l, tmpl, caCert, caKey); err != nil {
			return err
		}
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating the service-account key: %w", err)
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return fmt.Errorf("encoding the service-account public key: %w", err)
	}
	if err := writePEM(l.path("sa.pub"), "PUBLIC KEY", saPub); err != nil {
		return err
	}
	return writeKey(l.path("sa.key"), saKey)
}

// issue signs tmpl with the CA and writes <CommonName>.crt and .key.
func issue(l layout, tmpl *x509.Certificate, ca *x509.Certificate, caKey *ecdsa.PrivateKey) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating the %s key: %w", tmpl.Subject.CommonName, err)
	}
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(365 * 24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("signing the %s certificate: %w", tmpl.Subject.CommonName, err)
	}
	name := tmpl.Subject.CommonName
	if err := writePEM(l.path(name+".crt"), "CERTIFICATE", der); err != nil {
		return err
	}
	return writeKey(l.path(name+".key"), key)
}

func newCA(name string) (*ecdsa.PrivateKey, *x509.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("generating the CA key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "weir-local-ca-" + name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("self-signing the CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("parsing the CA: %w", err)
	}
	return key, cert, der, nil
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return writePEM(path, "PRIVATE KEY", der)
}

func writePEM(path, typ string, der []byte) error {
	b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
