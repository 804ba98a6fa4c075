package tls

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ClientVerify is a client-certificate mode, as ingress-nginx's
// auth-tls-verify-client names it.
type ClientVerify string

// The modes: On requires a certificate the CA verifies; Optional verifies
// one when the client sends it; OptionalNoCA asks for one and passes it on
// unverified; Off does not ask.
const (
	VerifyOn           ClientVerify = "on"
	VerifyOptional     ClientVerify = "optional"
	VerifyOptionalNoCA ClientVerify = "optional_no_ca"
	VerifyOff          ClientVerify = "off"
)

// ClientAuth is the client-certificate policy of a route. The listener asks
// for a certificate on the hosts that carry one (Snapshot.WithClientAuth),
// without failing the handshake; the proxy then calls Check on every
// request, so the verdict follows the request's route and not the SNI a
// client chose, and a failure is an HTTP answer (400) as in ingress-nginx.
type ClientAuth struct {
	Mode  ClientVerify
	Roots *x509.CertPool // ca.crt; nil only with OptionalNoCA or Off
	// Depth limits the certificates between the client's and a trusted CA,
	// counted as nginx's ssl_verify_depth (1: the CA signed it directly).
	Depth int
	// ErrorPage, when set, is where a failure redirects (302) instead of
	// the 400.
	ErrorPage string
	// PassCertificate sends the client's certificate upstream in the
	// ssl-client-cert header (URL-escaped PEM).
	PassCertificate bool
	// MatchSubject, when set, must match the client's subject DN (RFC 2253
	// form, "CN=alice,O=Example"), else the request is Forbidden
	// (auth-tls-match-cn).
	MatchSubject *regexp.Regexp
	// CRL, when set, refuses certificates it lists (ca.crl; crl.go).
	CRL *CRLs
	// Source names the Secret, for table dumps.
	Source string
}

// String describes the policy for table dumps.
func (c *ClientAuth) String() string {
	s := "verify=" + string(c.Mode) + " depth=" + strconv.Itoa(c.Depth) + " " + c.Source
	if c.PassCertificate {
		s += " pass-certificate"
	}
	if c.ErrorPage != "" {
		s += " error-page=" + c.ErrorPage
	}
	if c.MatchSubject != nil {
		s += " match=" + strconv.Quote(c.MatchSubject.String())
	}
	if c.CRL != nil {
		s += " crls=" + strconv.Itoa(c.CRL.Len())
	}
	return s
}

// ClientVerdict is the outcome of Check.
type ClientVerdict struct {
	// OK: the request may go on. When it may not, Forbidden tells a
	// subject that MatchSubject refused (403) from a certificate missing or
	// refused (400).
	OK, Forbidden bool
	// Verify is what nginx puts in $ssl_client_verify: SUCCESS, NONE or
	// FAILED:reason.
	Verify string
	// Leaf is the client's certificate (nil when none was sent).
	Leaf *x509.Certificate
}

// Check verifies the connection's client certificate against the policy.
// cs is nil for a request that did not come over TLS.
func (c *ClientAuth) Check(cs *tls.ConnectionState) ClientVerdict {
	v := c.check(cs)
	if v.OK && c.MatchSubject != nil {
		subject := ""
		if v.Leaf != nil {
			subject = v.Leaf.Subject.String()
		}
		if !c.MatchSubject.MatchString(subject) {
			v.OK, v.Forbidden = false, true
		}
	}
	return v
}

func (c *ClientAuth) check(cs *tls.ConnectionState) ClientVerdict {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return ClientVerdict{OK: c.Mode != VerifyOn, Verify: "NONE"}
	}
	leaf := cs.PeerCertificates[0]
	if c.Mode == VerifyOptionalNoCA || c.Mode == VerifyOff {
		return ClientVerdict{OK: true, Verify: "NONE", Leaf: leaf}
	}
	if reason := c.verify(cs.PeerCertificates); reason != "" {
		return ClientVerdict{Verify: "FAILED:" + reason, Leaf: leaf}
	}
	return ClientVerdict{OK: true, Verify: "SUCCESS", Leaf: leaf}
}

// verify returns "" or why the chain is refused, in words of its own (never
// text from the certificate, which the client chose).
func (c *ClientAuth) verify(chain []*x509.Certificate) string {
	if c.Roots == nil {
		return "no CA"
	}
	inter := x509.NewCertPool()
	for _, ic := range chain[1:] {
		inter.AddCert(ic)
	}
	chains, err := chain[0].Verify(x509.VerifyOptions{Roots: c.Roots, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		return "certificate verify failed"
	}
	reason := "certificate chain too long"
	for _, ch := range chains {
		if c.Depth > 0 && len(ch)-1 > c.Depth {
			continue
		}
		if c.CRL == nil {
			return ""
		}
		if reason = c.CRL.check(ch, time.Now()); reason == "" {
			return ""
		}
	}
	return reason
}

// EscapedPEM is the certificate as nginx's $ssl_client_escaped_cert: PEM,
// URL-escaped, safe in a header value.
func EscapedPEM(cert *x509.Certificate) string {
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	return strings.ReplaceAll(url.QueryEscape(string(p)), "+", "%20")
}

// errNoClientCA is returned by ParseCAs for a bundle without a certificate.
var errNoClientCA = errors.New("no PEM certificate in the CA bundle")

// ParseCAs reads a PEM bundle of CA certificates (ca.crt). It fails when the
// bundle holds no certificate: an empty pool would reject everyone, an
// absent one would trust too much.
func ParseCAs(bundle []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for rest := bundle; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing a CA certificate: %w", err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, errNoClientCA
	}
	return pool, nil
}
