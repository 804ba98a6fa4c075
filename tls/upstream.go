package tls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// UpstreamOptions configure TLS to HTTPS and GRPCS backends. The zero value
// is ingress-nginx's default: encrypt, but do not verify the backend.
type UpstreamOptions struct {
	// Verify turns certificate verification on (proxy-ssl-verify). Default
	// false, as in ingress-nginx: backends commonly use self-signed
	// certificates and the traffic stays inside the cluster.
	Verify bool

	// CA is a PEM bundle of the CAs trusted for the backend (ca.crt of
	// proxy-ssl-secret). Used only with Verify; empty means the system roots.
	CA []byte

	// ServerName is sent as SNI and, with Verify, checked against the
	// backend's certificate (proxy-ssl-name). Empty: net/http uses the host
	// it dials, which for an endpoint is a pod IP, so verification then
	// needs an IP SAN; set it whenever Verify is on.
	ServerName string

	// ClientCertificate is presented when the backend asks for one
	// (tls.crt/tls.key of proxy-ssl-secret). Default none.
	ClientCertificate *Certificate

	// HTTP2 offers "h2" by ALPN (GRPCS, or HTTPS backends that speak h2).
	// Default false: only "http/1.1". An http.Transport given this config
	// also needs ForceAttemptHTTP2 (or an http2.Transport) to use h2.
	HTTP2 bool

	// MinVersion is the lowest TLS version offered; default TLS 1.2.
	MinVersion uint16

	// OmitSNI keeps ServerName out of the handshake (nginx's
	// proxy_ssl_server_name off, ingress-nginx's default); with Verify the
	// certificate is still checked against ServerName.
	OmitSNI bool

	// MaxVersion is the highest TLS version offered; default TLS 1.3.
	MaxVersion uint16

	// VerifyDepth, with Verify, limits how many certificates may stand
	// between the backend's certificate and a trusted CA, counted as nginx
	// counts proxy_ssl_verify_depth: 1 means the CA signed the backend's
	// certificate directly. Default 0: no limit (ingress-nginx's annotation
	// defaults to 1; its parser passes that in).
	VerifyDepth int

	// CipherSuites are the TLS 1.2 suites offered (ParseCiphers); nil:
	// Go's defaults. TLS 1.3's suites are not configurable.
	CipherSuites []uint16
}

// errNoCA is wrapped when Verify has a CA bundle with no certificate in it;
// silently falling back to the system roots would trust far too much.
var errNoCA = errors.New("no PEM certificate in the upstream CA bundle")

// UpstreamConfig returns the client *tls.Config for connections to backends.
func UpstreamConfig(opts UpstreamOptions) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:   max(opts.MinVersion, tls.VersionTLS12),
		CipherSuites: opts.CipherSuites,
		ServerName:   opts.ServerName,
		NextProtos:   []string{"http/1.1"},
		// Verification off is the documented default for backends; see Verify.
		InsecureSkipVerify: !opts.Verify, //nolint:gosec // ingress-nginx parity, opt-in verification
	}
	if opts.HTTP2 {
		cfg.NextProtos = []string{"h2", "http/1.1"}
	}
	if opts.Verify && len(opts.CA) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(opts.CA) {
			return nil, fmt.Errorf("building upstream TLS config: %w", errNoCA)
		}
		cfg.RootCAs = pool
	}
	cfg.MaxVersion = opts.MaxVersion
	if opts.Verify && opts.OmitSNI && opts.ServerName != "" {
		// crypto/tls verifies against the name it sends; without SNI the
		// chain and name are checked here instead.
		cfg.ServerName, cfg.InsecureSkipVerify = "", true
		cfg.VerifyConnection = verifyNamed(opts.ServerName, cfg.RootCAs, opts.VerifyDepth)
	} else if opts.Verify && opts.VerifyDepth > 0 {
		cfg.VerifyConnection = verifyDepth(opts.VerifyDepth)
	}
	if opts.OmitSNI && !opts.Verify {
		cfg.ServerName = ""
	}
	if c := opts.ClientCertificate; c != nil {
		cert := c.TLSCertificate()
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return cert, nil
		}
	}
	return cfg, nil
}

// verifyDepth accepts a connection if any verified chain is short enough.
// It runs after crypto/tls has verified the chains, so it only narrows.
func verifyDepth(depth int) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		for _, chain := range cs.VerifiedChains {
			// A chain holds the leaf, any intermediates and the root.
			if len(chain)-1 <= depth {
				return nil
			}
		}
		return fmt.Errorf("upstream certificate chain is longer than the verify depth %d", depth)
	}
}

// verifyNamed verifies the peer's chain against roots (nil: the system's)
// and name, then the depth (0: any).
func verifyNamed(name string, roots *x509.CertPool, depth int) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("upstream sent no certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		chains, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inter})
		if err != nil {
			return fmt.Errorf("upstream certificate: %w", err)
		}
		if depth > 0 {
			return verifyDepth(depth)(tls.ConnectionState{VerifiedChains: chains})
		}
		return nil
	}
}
