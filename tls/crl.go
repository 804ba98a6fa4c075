package tls

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// CRLs are the certificate revocation lists of a client-certificate policy
// (auth-tls-secret's ca.crl), checked as nginx's ssl_crl checks them
// (OpenSSL with CRL checking for the whole chain): every certificate of the
// verified chain needs a valid CRL from its issuer, and one that a CRL
// lists is refused.
type CRLs struct {
	lists []*x509.RevocationList
}

// errNoCRL is returned by ParseCRLs for data without a CRL.
var errNoCRL = errors.New("no PEM X509 CRL block")

// ParseCRLs reads PEM "X509 CRL" blocks. Anything else in the data, a
// block that does not parse, or no block at all is an error: a list Weir
// cannot read must close the paths, never let revoked certificates in.
func ParseCRLs(data []byte) (*CRLs, error) {
	c := &CRLs{}
	rest := bytes.TrimSpace(data)
	for len(rest) > 0 {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("data that is not a PEM block")
		}
		if b.Type != "X509 CRL" {
			return nil, fmt.Errorf("a PEM block of type %q, not X509 CRL", b.Type)
		}
		l, err := x509.ParseRevocationList(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("CRL %d: %w", len(c.lists)+1, err)
		}
		c.lists = append(c.lists, l)
		rest = bytes.TrimSpace(rest)
	}
	if len(c.lists) == 0 {
		return nil, errNoCRL
	}
	return c, nil
}

// Len is the number of lists.
func (c *CRLs) Len() int { return len(c.lists) }

// check returns "" when no certificate of chain (leaf first, trust anchor
// last) is revoked, or nginx's reason for refusing it: "certificate
// revoked", "unable to get certificate CRL", "CRL has expired" or "CRL is
// not yet valid".
func (c *CRLs) check(chain []*x509.Certificate, now time.Time) string {
	for i, cert := range chain {
		issuer := cert // the trust anchor issued itself
		if i+1 < len(chain) {
			issuer = chain[i+1]
		}
		l := c.from(issuer, now)
		switch {
		case l == nil:
			return "unable to get certificate CRL"
		case now.Before(l.ThisUpdate):
			return "CRL is not yet valid"
		case !l.NextUpdate.IsZero() && now.After(l.NextUpdate):
			return "CRL has expired"
		}
		for _, r := range l.RevokedCertificateEntries {
			if r.SerialNumber != nil && r.SerialNumber.Cmp(cert.SerialNumber) == 0 {
				return "certificate revoked"
			}
		}
	}
	return ""
}

// from is the CRL of issuer that counts at now, nil when issuer signed
// none. Of several, as OpenSSL chooses (and so nginx): one valid at now
// before one that is not, then the newest (the latest thisUpdate).
func (c *CRLs) from(issuer *x509.Certificate, now time.Time) *x509.RevocationList {
	var best *x509.RevocationList
	bestValid := false
	for _, l := range c.lists {
		if !bytes.Equal(l.RawIssuer, issuer.RawSubject) || l.CheckSignatureFrom(issuer) != nil {
			continue
		}
		valid := !now.Before(l.ThisUpdate) && (l.NextUpdate.IsZero() || !now.After(l.NextUpdate))
		if best == nil || valid && !bestValid || valid == bestValid && l.ThisUpdate.After(best.ThisUpdate) {
			best, bestValid = l, valid
		}
	}
	return best
}
