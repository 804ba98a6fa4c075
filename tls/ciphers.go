package tls

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// ParseCiphers reads a cipher list as nginx and ingress-nginx write it
// (ssl-ciphers, proxy-ssl-ciphers: OpenSSL names separated by colons,
// commas or spaces, e.g. "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-...").
// IANA names (TLS_ECDHE_...) are accepted too.
//
// The result is for crypto/tls's Config.CipherSuites, which only governs
// TLS 1.2; TLS 1.3's suites are fixed by Go and always offered. nil means
// Go's default list: for an empty value, and for OpenSSL's keywords
// (DEFAULT, HIGH, ALL, ...) and exclusions (!aNULL, -MD5, +...), which Go's
// defaults already satisfy (no NULL, export, RC4, 3DES or MD5 suites).
//
// ignored lists the known names Go cannot offer (DHE and RSA key exchange
// with CBC-SHA384, CCM, ...): the caller reports them. An unknown name, or
// a list whose every name is ignored, is an error: the operator asked for
// suites Weir would not honour.
func ParseCiphers(v string) (suites []uint16, ignored []string, err error) {
	names := strings.FieldsFunc(v, func(r rune) bool { return r == ':' || r == ',' || r == ' ' || r == '\t' })
	usable := map[string]uint16{} // TLS 1.2 suites Go implements
	tls13 := map[string]bool{}    // always on: accepted, nothing to set
	for _, s := range tls.CipherSuites() {
		if s.SupportedVersions[0] == tls.VersionTLS13 {
			tls13[s.Name] = true
			continue
		}
		usable[s.Name] = s.ID
	}
	keywords := 0
	for _, n := range names {
		switch {
		case strings.ContainsAny(n[:1], "!-+@") || openSSLKeyword[strings.ToUpper(n)]:
			keywords++
			continue
		}
		iana := n
		if !strings.HasPrefix(n, "TLS_") {
			iana = openSSLToIANA[n]
		}
		if tls13[iana] {
			keywords++
			continue
		}
		if id, ok := usable[iana]; ok {
			suites = append(suites, id)
			continue
		}
		if iana != "" || unsupportedOpenSSL(n) {
			ignored = append(ignored, n)
			continue
		}
		return nil, nil, fmt.Errorf("%q is not a TLS cipher suite name", n)
	}
	if len(suites) == 0 && len(ignored) > 0 && keywords == 0 {
		return nil, ignored, fmt.Errorf("none of the cipher suites %s is supported (Go offers ECDHE with AES-GCM, ChaCha20-Poly1305 and AES-CBC-SHA)", strings.Join(ignored, ":"))
	}
	return suites, ignored, nil
}

// openSSLKeyword holds the OpenSSL cipher-string keywords that select
// groups of suites rather than naming one.
var openSSLKeyword = map[string]bool{
	"DEFAULT": true, "ALL": true, "HIGH": true, "MEDIUM": true, "LOW": true, "COMPLEMENTOFDEFAULT": true,
	"ECDHE": true, "EECDH": true, "AESGCM": true, "AES": true, "CHACHA20": true, "SECURE128": true, "SECURE256": true,
}

// unsupportedOpenSSL recognises OpenSSL suite names of key exchanges Go
// does not implement (finite-field DHE, PSK, SRP, DSS, CAMELLIA, ARIA, ...).
func unsupportedOpenSSL(n string) bool {
	for _, p := range []string{"DHE-", "EDH-", "PSK-", "SRP-", "DSS-", "ADH-", "AECDH-", "CAMELLIA", "ARIA", "SEED", "IDEA", "DES-", "RC4", "NULL"} {
		if strings.HasPrefix(n, p) || strings.Contains(n, "-"+p) {
			return true
		}
	}
	return strings.HasSuffix(n, "-CCM") || strings.HasSuffix(n, "-CCM8")
}

// openSSLToIANA maps the OpenSSL names of the suites Go implements (and of
// the RSA-key-exchange suites it keeps off by default) to their IANA names.
var openSSLToIANA = map[string]string{
	"ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-RSA-AES128-GCM-SHA256":   "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-RSA-AES256-GCM-SHA384":   "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-ECDSA-CHACHA20-POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	"ECDHE-RSA-CHACHA20-POLY1305":   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	"ECDHE-ECDSA-AES128-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
	"ECDHE-RSA-AES128-SHA":          "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
	"ECDHE-ECDSA-AES256-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
	"ECDHE-RSA-AES256-SHA":          "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
	"ECDHE-ECDSA-AES128-SHA256":     "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
	"ECDHE-RSA-AES128-SHA256":       "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
	// Known to OpenSSL, not offered by Go (or only insecurely): reported as ignored.
	"ECDHE-ECDSA-AES256-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384",
	"ECDHE-RSA-AES256-SHA384":   "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384",
	"AES128-GCM-SHA256":         "TLS_RSA_WITH_AES_128_GCM_SHA256",
	"AES256-GCM-SHA384":         "TLS_RSA_WITH_AES_256_GCM_SHA384",
	"AES128-SHA256":             "TLS_RSA_WITH_AES_128_CBC_SHA256",
	"AES256-SHA256":             "TLS_RSA_WITH_AES_256_CBC_SHA256",
	"AES128-SHA":                "TLS_RSA_WITH_AES_128_CBC_SHA",
	"AES256-SHA":                "TLS_RSA_WITH_AES_256_CBC_SHA",
	"DES-CBC3-SHA":              "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
	"ECDHE-RSA-DES-CBC3-SHA":    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
}
