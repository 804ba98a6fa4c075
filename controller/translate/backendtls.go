package translate

import (
	"crypto/tls"
	"fmt"
	"strings"

	"weir.dev/weir/annotations"
	"weir.dev/weir/proxy/table"
	weirtls "weir.dev/weir/tls"
)

// Problem reasons of proxy-ssl-*.
const (
	ReasonBackendTLSSecretNotFound = "ProxySSLSecretNotFound"
	ReasonInvalidBackendTLSSecret  = "InvalidProxySSLSecret"
)

// backendTLSSpec is an Ingress's proxy-ssl-* with its Secret read; build
// turns it into each backend's TLS configuration.
type backendTLSSpec struct {
	cfg    *annotations.BackendTLS
	ca     []byte
	cert   *weirtls.Certificate
	source string // "Secret ns/name@resourceVersion", or "" without a Secret
}

// backendTLS reads proxy-ssl-secret. A Secret in another namespace or
// missing, verification without a CA, or a client key pair that does not
// parse is a problem and nil: the caller closes the paths (503).
func (t *translator) backendTLS(p *parsed, bt *annotations.BackendTLS) *backendTLSSpec {
	field := "metadata.annotations[" + annotations.Prefix + "proxy-ssl-secret]"
	spec := &backendTLSSpec{cfg: bt}
	if bt.SecretName == "" {
		if bt.Verify {
			t.problem(p, field, ReasonInvalidBackendTLSSecret, Error, "proxy-ssl-verify is on without proxy-ssl-secret (its ca.crt); every path of the Ingress answers 503")
			return nil
		}
		return spec
	}
	s, ref := t.ownSecret(p, field, bt.SecretNamespace, bt.SecretName, ReasonBackendTLSSecretNotFound, ReasonInvalidBackendTLSSecret)
	if s == nil {
		return nil
	}
	spec.source = "Secret " + ref + "@" + s.ResourceVersion
	if bt.Verify {
		if _, err := weirtls.ParseCAs(s.Data[clientCAKey]); err != nil {
			t.problem(p, field, ReasonInvalidBackendTLSSecret, Error, "Secret %s: key %s holds no usable CA certificate (%v); every path of the Ingress answers 503", ref, clientCAKey, err)
			return nil
		}
		spec.ca = s.Data[clientCAKey]
	}
	if crt, key := s.Data["tls.crt"], s.Data["tls.key"]; len(crt) > 0 || len(key) > 0 {
		cert, err := weirtls.ParseKeyPair(crt, key)
		if err != nil {
			t.problem(p, field, ReasonInvalidBackendTLSSecret, Error, "Secret %s: tls.crt/tls.key: %v; every path of the Ingress answers 503", ref, err)
			return nil
		}
		spec.cert = cert
	}
	return spec
}

// build is the TLS configuration for a backend of Service svc in ns; the
// verified name defaults to the Service's DNS name.
func (s *backendTLSSpec) build(ns, svc string) (*table.BackendTLS, error) {
	name := s.cfg.Name
	if name == "" {
		name = svc + "." + ns + ".svc"
	}
	opts := weirtls.UpstreamOptions{Verify: s.cfg.Verify, CA: s.ca, ServerName: name, OmitSNI: !s.cfg.ServerName,
		ClientCertificate: s.cert, VerifyDepth: s.cfg.Depth, CipherSuites: s.cfg.Ciphers}
	if s.cfg.MinTLS13 {
		opts.MinVersion = tls.VersionTLS13
	}
	conf, err := weirtls.UpstreamConfig(opts)
	if err != nil {
		return nil, err
	}
	ciphers := ""
	if s.cfg.Ciphers != nil {
		ciphers = fmt.Sprintf(" ciphers=%04x", s.cfg.Ciphers)
	}
	key := strings.TrimSpace(fmt.Sprintf("verify=%t depth=%d name=%s sni=%t tls13=%t%s client-cert=%t %s", s.cfg.Verify, s.cfg.Depth, name,
		s.cfg.ServerName, s.cfg.MinTLS13, ciphers, s.cert != nil, s.source))
	return &table.BackendTLS{Config: conf, Key: key}, nil
}

// upstreamTLS is the proxy-ssl-* configuration spec for a backend of p,
// nil when there is none or the backend does not speak TLS
// (backend-protocol HTTPS or GRPCS); a configuration that cannot be built
// is a problem (and refuses every handshake).
func (t *translator) upstreamTLS(p *parsed, spec *backendTLSSpec, field fieldRef, ns, svc string, proto table.Protocol) *table.BackendTLS {
	if spec == nil || (proto != table.HTTPS && proto != table.GRPCS) {
		return nil
	}
	bt, err := spec.build(ns, svc)
	if err != nil {
		// Never fall back to the unverified default: every handshake fails.
		t.problem(p, field.String(), ReasonInvalidBackendTLSSecret, Error, "proxy-ssl-*: %v; requests to the backend get 502", err)
		refuse := func(tls.ConnectionState) error { return err }
		return &table.BackendTLS{Config: &tls.Config{InsecureSkipVerify: true, VerifyConnection: refuse}, Key: "invalid " + spec.source} //nolint:gosec // VerifyConnection refuses every peer
	}
	return bt
}
