package annotations

import (
	"strings"

	weirtls "weir.dev/weir/tls"
)

// BackendTLS is proxy-ssl-*: how Weir authenticates HTTPS and GRPCS
// backends and itself to them. The Secret (ca.crt, tls.crt, tls.key) is
// resolved by translation.
type BackendTLS struct {
	SecretNamespace, SecretName string
	// Verify is proxy-ssl-verify (default off, as in ingress-nginx).
	Verify bool
	// Depth is proxy-ssl-verify-depth (default 1).
	Depth int
	// Name is proxy-ssl-name: the name verified (and sent as SNI with
	// ServerName); "" means the Service's DNS name.
	Name string
	// ServerName is proxy-ssl-server-name: send SNI (default off).
	ServerName bool
	// MinTLS13 is set when proxy-ssl-protocols lists TLSv1.3 alone.
	MinTLS13 bool
	// Ciphers is proxy-ssl-ciphers: the TLS 1.2 suites offered, nil for
	// Go's defaults.
	Ciphers []uint16
}

// backendTLS reads proxy-ssl-*; nil when none is set. A proxy-ssl-secret
// that is not a Secret name closes every path (DenyAll): verification was
// asked for and cannot be done.
func (p *parser) backendTLS(c *Config) {
	secret, _ := p.get("proxy-ssl-secret")
	verify := p.onOff("proxy-ssl-verify")
	name := p.checked("proxy-ssl-name", ReasonInvalidValue, validTLSName, "is not a DNS name", "the Service's DNS name is used")
	sni := p.onOff("proxy-ssl-server-name")
	protocols, _ := p.get("proxy-ssl-protocols")
	ciphers := p.ciphers("proxy-ssl-ciphers")
	if strings.TrimSpace(secret) == "" && !verify && name == "" && !sni && strings.TrimSpace(protocols) == "" && ciphers == nil {
		return
	}
	bt := &BackendTLS{Verify: verify, Name: name, ServerName: sni,
		Depth: p.intRange("proxy-ssl-verify-depth", DefaultClientVerifyDepth, 1, MaxCount, ReasonInvalidValue)}
	if strings.TrimSpace(secret) != "" {
		ns, n, ok := p.secretName(c, "proxy-ssl-secret", secret)
		if !ok {
			return
		}
		bt.SecretNamespace, bt.SecretName = ns, n
	}
	bt.MinTLS13 = p.tlsProtocols(protocols)
	bt.Ciphers = ciphers
	c.BackendTLS = bt
}

// ciphers reads an OpenSSL cipher list (tls.ParseCiphers). Suites Go does
// not offer are reported and left out; a list Weir cannot honour at all is
// reported and Go's defaults (ECDHE with AEAD ciphers first) apply.
func (p *parser) ciphers(name string) []uint16 {
	v, ok := p.get(name)
	if !ok {
		return nil
	}
	suites, ignored, err := weirtls.ParseCiphers(v)
	if err != nil {
		p.problem(name, ReasonInvalidValue, Warning, "%v; Weir's default cipher suites apply", err)
		return nil
	}
	if len(ignored) > 0 {
		p.problem(name, ReasonInvalidValue, Warning, "%s: not offered by Weir (Go's TLS has no such suite, or only an insecure one); the other suites apply", strings.Join(ignored, ":"))
	}
	return suites
}

// onOff reads nginx's on/off flags (true/false accepted too).
func (p *parser) onOff(name string) bool {
	v, ok := p.get(name)
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true":
		return true
	case "off", "false", "":
		return false
	}
	if ok {
		p.problem(name, ReasonInvalidValue, Warning, "%s is not on or off; off is used", quoteShort(v))
	}
	return false
}

// tlsProtocols reads proxy-ssl-protocols ("TLSv1.2 TLSv1.3"). Weir never
// offers less than TLS 1.2; the value only matters when it leaves 1.3
// alone.
func (p *parser) tlsProtocols(v string) bool {
	if strings.TrimSpace(v) == "" {
		return false
	}
	has := map[string]bool{}
	for _, f := range strings.Fields(v) {
		switch f {
		case "SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3":
			has[f] = true
		default:
			p.problem("proxy-ssl-protocols", ReasonInvalidValue, Warning, "%s is not a TLS protocol name; it is ignored", quoteShort(f))
		}
	}
	return has["TLSv1.3"] && !has["TLSv1.2"]
}

func validTLSName(v string) bool {
	return validHost(strings.TrimPrefix(v, "*.")) && !strings.ContainsAny(v, ":[]/ ")
}

func registerBackendTLS() {
	up := func(name, def, doc string) Entry {
		return Entry{Name: name, Scope: ScopeLocation, Risk: RiskMedium, Default: def, Supported: true, Doc: doc}
	}
	register(
		up("proxy-ssl-secret", "", "namespace/name of a Secret (the Ingress's namespace): ca.crt verifies HTTPS/GRPCS backends, tls.crt/tls.key is presented to them. Missing: every path answers 503."),
		up("proxy-ssl-verify", "off", "on: verify the backend's certificate against ca.crt of proxy-ssl-secret (a failure is a 502, logged)."),
		up("proxy-ssl-verify-depth", "1", "Certificates allowed between the backend's and a CA of ca.crt (1: signed directly)."),
		up("proxy-ssl-name", "", "Name the backend's certificate must hold (and the SNI with proxy-ssl-server-name); default <service>.<namespace>.svc."),
		up("proxy-ssl-server-name", "off", "on: send proxy-ssl-name as SNI."),
		up("proxy-ssl-protocols", "TLSv1.2 TLSv1.3", "TLS versions offered to backends; Weir offers TLS 1.2 and 1.3 only (TLSv1.3 alone: 1.3 only)."),
		up("proxy-ssl-ciphers", "DEFAULT", "TLS 1.2 cipher suites offered to backends, OpenSSL names (or IANA names) separated by colons; keywords such as DEFAULT or HIGH mean Go's defaults; suites Go lacks (DHE, CCM, ...) are reported and left out. TLS 1.3 suites are always Go's."),
	)
}
