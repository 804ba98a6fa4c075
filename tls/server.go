package tls

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// Options tune ServerConfig. The zero value is the default Weir serves with.
type Options struct {
	// MinVersion is the lowest TLS version accepted: tls.VersionTLS12
	// (the default, also used for any lower value) or tls.VersionTLS13. Use
	// ParseVersion to read it from a flag.
	MinVersion uint16

	// DisableHTTP2 removes "h2" from ALPN so clients use HTTP/1.1.
	// Default false: "h2" is offered first, then "http/1.1".
	DisableHTTP2 bool

	// TicketKeys, when set, encrypts session tickets with its rotating keys
	// (see NewTicketKeys). When nil, crypto/tls uses its own keys, which it
	// rotates daily and which are lost on restart.
	TicketKeys *TicketKeys

	// DisableSessionTickets turns resumption by ticket off entirely.
	DisableSessionTickets bool

	// MaxVersion caps the TLS version (0: Go's highest); CipherSuites are
	// the TLS 1.2 suites offered (nil: Go's defaults). The global
	// ConfigMap's ssl-protocols and ssl-ciphers set them.
	MaxVersion   uint16
	CipherSuites []uint16
}

// ParseVersion reads a minimum TLS version as an operator writes it: "1.2",
// "1.3", or ingress-nginx's "TLSv1.2"/"TLSv1.3". An empty string means 1.2.
// TLS 1.0 and 1.1 are refused: they are deprecated (RFC 8996).
func ParseVersion(s string) (uint16, error) {
	v := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(s), "TLSv"), "v")
	switch v {
	case "", "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	case "1.0", "1", "1.1":
		return 0, fmt.Errorf("TLS version %q is not supported: the minimum is 1.2 (RFC 8996)", s)
	default:
		return 0, fmt.Errorf("unknown TLS version %q: want 1.2 or 1.3", s)
	}
}

// ServerConfig returns the *tls.Config for Weir's HTTPS listeners.
//
// Certificates come from store by SNI on every handshake, so Store.Swap
// rotates them without touching the config. Cipher suites and curves are left
// at Go's defaults on purpose: for TLS 1.2 those are ECDHE with AEAD first
// (no RSA key exchange, no 3DES, no RC4), TLS 1.3 suites are not
// configurable, and the key exchange prefers the X25519MLKEM768 hybrid; a
// hand-written list would only age worse than the standard library's.
//
// Serve with tls.NewListener(ln, cfg) and http.Server.Serve, or ServeTLS: both
// work, including ticket rotation (see TicketKeys); with DisableHTTP2 and
// ServeTLS, also leave HTTP/2 out of http.Server.Protocols. Do not fill the returned
// config's Certificates: crypto/tls then serves Certificates[0] to clients
// without SNI instead of asking the store (httptest.Server.StartTLS does
// this when Certificates is empty).
func ServerConfig(store *Store, opts Options) *tls.Config {
	cfg := &tls.Config{
		MinVersion:             max(opts.MinVersion, tls.VersionTLS12),
		GetCertificate:         store.GetCertificate,
		NextProtos:             []string{"h2", "http/1.1"},
		SessionTicketsDisabled: opts.DisableSessionTickets,
		MaxVersion:             opts.MaxVersion,
		CipherSuites:           opts.CipherSuites,
	}
	if opts.DisableHTTP2 {
		cfg.NextProtos = []string{"http/1.1"}
	}
	if opts.TicketKeys != nil && !opts.DisableSessionTickets {
		opts.TicketKeys.apply(cfg)
	}
	base := cfg.Clone()
	cfg.GetConfigForClient = configForClient(store, base)
	return cfg
}
