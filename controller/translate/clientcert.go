package translate

import (
	"crypto/x509"

	corev1 "k8s.io/api/core/v1"

	"weir.dev/weir/annotations"
	weirtls "weir.dev/weir/tls"
)

// Problem reasons of auth-tls-*.
const (
	ReasonClientCASecretNotFound = "AuthTLSSecretNotFound"
	ReasonInvalidClientCASecret  = "InvalidAuthTLSSecret"
)

// clientCAKey is the key of auth-tls-secret holding the trusted CAs;
// clientCRLKey the optional one holding their revocation lists (PEM).
const (
	clientCAKey  = "ca.crt"
	clientCRLKey = "ca.crl"
)

// clientCert builds the client-certificate policy of auth-tls-secret. A
// Secret in another namespace, missing, without a CA in ca.crt, or with a
// ca.crl that does not parse is a problem and nil: the caller closes the
// paths (503).
func (t *translator) clientCert(p *parsed, cc *annotations.ClientCert) *weirtls.ClientAuth {
	field := "metadata.annotations[" + annotations.Prefix + "auth-tls-secret]"
	s, ref := t.ownSecret(p, field, cc.SecretNamespace, cc.SecretName, ReasonClientCASecretNotFound, ReasonInvalidClientCASecret)
	if s == nil {
		return nil
	}
	ca := &weirtls.ClientAuth{Mode: weirtls.ClientVerify(cc.Verify), Depth: cc.Depth, ErrorPage: cc.ErrorPage,
		PassCertificate: cc.PassCertificate, MatchSubject: cc.MatchCN, Source: "Secret " + ref}
	if cc.Verify == string(weirtls.VerifyOptionalNoCA) {
		return ca // the CA is not used
	}
	pool, err := weirtls.ParseCAs(s.Data[clientCAKey])
	if err != nil {
		t.problem(p, field, ReasonInvalidClientCASecret, Error, "Secret %s: key %s holds no usable CA certificate (%v); every path of the Ingress answers 503", ref, clientCAKey, err)
		return nil
	}
	ca.Roots = pool
	if crl, ok := s.Data[clientCRLKey]; ok {
		if ca.CRL, err = weirtls.ParseCRLs(crl); err != nil {
			t.problem(p, field, ReasonInvalidClientCASecret, Error, "Secret %s: key %s: %v; every path of the Ingress answers 503", ref, clientCRLKey, err)
			return nil
		}
	}
	return ca
}

// ownSecret is the Secret an annotation names, read only in the Ingress's
// own namespace (namespace "" means that one). Another namespace, or no
// such Secret, is a problem (reasons notFound, elsewhere) and nil: the
// caller closes the paths. ref is "namespace/name".
func (t *translator) ownSecret(p *parsed, field, namespace, name, notFound, elsewhere string) (*corev1.Secret, string) {
	ns := p.ing.Namespace
	if namespace != "" && namespace != ns {
		t.problem(p, field, elsewhere, Error, "Secret %s/%s is in another namespace; only the Ingress's own namespace is read; every path of the Ingress answers 503",
			namespace, name)
		return nil, ""
	}
	ref := ns + "/" + name
	s := t.idx.secret(ref)
	if s == nil {
		t.problem(p, field, notFound, Error, "Secret %s not found; every path of the Ingress answers 503", ref)
	}
	return s, ref
}

// askClientCert records that TLS handshakes for host ask for a client
// certificate naming the policy's CAs. Routes of one host with different
// CAs make the request name none (any certificate may be sent); each route
// still verifies against its own.
func (t *translator) askClientCert(host string, ca *weirtls.ClientAuth) {
	if ca == nil || host == "" {
		return
	}
	if t.clientHosts == nil {
		t.clientHosts = map[string]*x509.CertPool{}
	}
	if prev, ok := t.clientHosts[host]; ok && prev != ca.Roots {
		t.clientHosts[host] = nil
		return
	}
	t.clientHosts[host] = ca.Roots
}
