package annotations

import (
	"regexp"
	"strings"
)

// ClientCert is auth-tls-secret and its companions: client-certificate
// authentication. The Secret (key ca.crt) is resolved by translation.
type ClientCert struct {
	// SecretNamespace is the namespace written in auth-tls-secret ("" when
	// only a name was given); translation reads only the Ingress's own.
	SecretNamespace, SecretName string
	// Verify is on (the default), optional or optional_no_ca; off leaves
	// ClientCert nil.
	Verify string
	// Depth is auth-tls-verify-depth (default 1).
	Depth int
	// ErrorPage is where failures redirect (302) instead of the 400.
	ErrorPage string
	// PassCertificate sends the certificate upstream (ssl-client-cert).
	PassCertificate bool
	// MatchCN, when set, must match the certificate's subject DN (403).
	MatchCN *regexp.Regexp
}

// DefaultClientVerifyDepth is ingress-nginx's auth-tls-verify-depth.
const DefaultClientVerifyDepth = 1

// clientCert reads auth-tls-*. An auth-tls-secret that is not a Secret
// name, or a match-cn that is not a pattern, closes every path (DenyAll);
// the other values fall back to their defaults.
func (p *parser) clientCert(c *Config) {
	secret, _ := p.get("auth-tls-secret")
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return
	}
	ns, name, ok := p.secretName(c, "auth-tls-secret", secret)
	if !ok {
		return
	}
	cc := &ClientCert{SecretNamespace: ns, SecretName: name, Verify: "on"}
	if v, ok := p.get("auth-tls-verify-client"); ok && strings.TrimSpace(v) != "" {
		switch v = strings.TrimSpace(v); v {
		case "on", "optional", "optional_no_ca":
			cc.Verify = v
		case "off":
			return
		default:
			p.problem("auth-tls-verify-client", ReasonInvalidValue, Warning, "%s is not on, off, optional or optional_no_ca; on is used", quoteShort(v))
		}
	}
	cc.Depth = p.intRange("auth-tls-verify-depth", DefaultClientVerifyDepth, 1, MaxCount, ReasonInvalidValue)
	cc.ErrorPage = p.checked("auth-tls-error-page", ReasonInvalidValue, validErrorPage, "is not an http(s) URL or an absolute path", "failures answer 400")
	cc.PassCertificate = p.boolean("auth-tls-pass-certificate-to-upstream", false)
	if v, ok := p.get("auth-tls-match-cn"); ok && strings.TrimSpace(v) != "" {
		re, err := regexp.Compile(strings.TrimSpace(v))
		if err != nil || !strings.HasPrefix(strings.TrimSpace(v), "CN=") {
			p.problem("auth-tls-match-cn", ReasonInvalidValue, Error, "%s is not a pattern starting with CN=; every path of the Ingress answers 503 (fail closed)", quoteShort(v))
			c.DenyAll = true
			return
		}
		cc.MatchCN = re
	}
	c.ClientCert = cc
}

// secretName reads the Secret an annotation names; a value that is not a
// Secret name is a problem and closes every path (DenyAll).
func (p *parser) secretName(c *Config, annotation, v string) (ns, name string, ok bool) {
	ns, name, ok = secretRef(v)
	if !ok {
		p.problem(annotation, ReasonInvalidValue, Error, "%s is not a Secret name (namespace/name); every path of the Ingress answers 503 (fail closed)", quoteShort(v))
		c.DenyAll = true
	}
	return ns, name, ok
}

// secretRef splits "namespace/name" or "name" (namespace "") and reports
// whether both are valid object names.
func secretRef(v string) (ns, name string, ok bool) {
	ns, name, found := strings.Cut(strings.TrimSpace(v), "/")
	if !found {
		ns, name = "", ns
	}
	return ns, name, secretNameRE.MatchString(name) && (!found || secretNameRE.MatchString(ns))
}

// validErrorPage accepts what can go into a Location header: an http(s)
// URL or an absolute path, printable ASCII without spaces.
func validErrorPage(v string) bool {
	if !visibleASCII(v) {
		return false
	}
	lo := strings.ToLower(v)
	return strings.HasPrefix(lo, "http://") || strings.HasPrefix(lo, "https://") || (strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//"))
}

func registerClientCert() {
	loc := func(name, def, doc string) Entry {
		return Entry{Name: name, Scope: ScopeLocation, Risk: RiskCritical, Default: def, Supported: true, Doc: doc}
	}
	register(
		Entry{Name: "auth-tls-secret", Scope: ScopeLocation, Risk: RiskCritical, Supported: true, FailClosed: true,
			Doc: "namespace/name of a Secret (the Ingress's namespace) whose ca.crt verifies client certificates; the TLS listener asks for one on the Ingress's hosts. Missing Secret or ca.crt: every path answers 503."},
		loc("auth-tls-verify-client", "on", "on: a verified certificate is required (400 otherwise); optional: verified when sent; optional_no_ca: asked for, passed on unverified; off: not asked for."),
		loc("auth-tls-verify-depth", "1", "Certificates allowed between the client's and a CA of ca.crt (1: signed directly)."),
		loc("auth-tls-error-page", "", "URL a certificate failure redirects to (302) instead of answering 400."),
		loc("auth-tls-pass-certificate-to-upstream", "false", "Send the client certificate upstream in ssl-client-cert (URL-escaped PEM)."),
		Entry{Name: "auth-tls-match-cn", Scope: ScopeLocation, Risk: RiskCritical, Supported: true, FailClosed: true,
			Doc: "RE2 pattern starting with CN= that the certificate's subject DN must match (403 otherwise); invalid: every path answers 503."},
	)
}
