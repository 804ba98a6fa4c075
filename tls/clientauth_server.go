package tls

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
)

// hostCAs maps host names (exact, and "*.parent" keyed by parent) to the CA
// pool named in the CertificateRequest; a nil pool asks for any certificate
// (optional_no_ca).
type hostCAs struct {
	exact, wildcard map[string]*x509.CertPool
}

// WithClientAuth returns a copy of s whose handshakes for hosts ask the
// client for a certificate. Hosts are written as for Builder.Add; a bad one
// fails the whole call.
func (s *Snapshot) WithClientAuth(hosts map[string]*x509.CertPool) (*Snapshot, error) {
	if len(hosts) == 0 {
		return s, nil
	}
	h := &hostCAs{exact: map[string]*x509.CertPool{}, wildcard: map[string]*x509.CertPool{}}
	for host, pool := range hosts {
		key, wildcard, err := normalizeHost(host)
		if err != nil {
			return nil, err
		}
		if wildcard {
			h.wildcard[key] = pool
		} else {
			h.exact[key] = pool
		}
	}
	c := *s
	c.clientCAs = h
	return &c, nil
}

// clientCAs reports whether a handshake for serverName asks for a client
// certificate, and the CAs it names.
func (s *Snapshot) clientCAsFor(serverName string) (*x509.CertPool, bool) {
	if s.clientCAs == nil {
		return nil, false
	}
	name := strings.ToLower(strings.TrimSuffix(serverName, "."))
	if p, ok := s.clientCAs.exact[name]; ok {
		return p, true
	}
	if i := strings.IndexByte(name, '.'); i > 0 && i < len(name)-1 {
		if p, ok := s.clientCAs.wildcard[name[i+1:]]; ok {
			return p, true
		}
	}
	return nil, false
}

// configForClient is the listener's GetConfigForClient: a handshake for a
// host with a client-certificate policy gets a copy of base that asks for
// a certificate (never requires or verifies it: the proxy does, per
// request, and answers 400 as ingress-nginx) and issues no session
// tickets, so every connection to such a host presents its certificate
// afresh. Other handshakes use base unchanged.
func configForClient(store *Store, base *tls.Config) func(*tls.ClientHelloInfo) (*tls.Config, error) {
	return func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		snap := store.cur.Load()
		if snap == nil {
			return nil, nil
		}
		pool, ok := snap.clientCAsFor(hello.ServerName)
		if !ok {
			return nil, nil
		}
		c := base.Clone()
		c.GetConfigForClient = nil
		c.ClientAuth = tls.RequestClientCert
		c.ClientCAs = pool
		c.SessionTicketsDisabled = true
		return c, nil
	}
}
