package translate

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	weirtls "weir.dev/weir/tls"
)

// collectTLS maps the hosts of every main Ingress's spec.tls to their
// certificates. The oldest Ingress that sets a host validly wins. A host
// whose Secret is missing or invalid still counts as a TLS host (HTTPS with
// the default certificate, HTTP redirected), as in ingress-nginx.
func (t *translator) collectTLS(mains []*parsed) {
	for _, p := range mains {
		for i, tl := range p.ing.Spec.TLS {
			field := "spec.tls[" + strconv.Itoa(i) + "]"
			hosts := tl.Hosts
			if len(hosts) == 0 {
				for _, r := range p.ing.Spec.Rules {
					hosts = append(hosts, r.Host)
				}
			}
			cert, err := t.certificate(p.ing.Namespace, tl.SecretName)
			if err != nil {
				t.problem(p, field+".secretName", ReasonTLSSecret, Warning, "%v; its hosts get the default certificate", err)
			}
			for _, h := range hosts {
				h, ok := normalizeHost(h)
				if !ok || h == "" {
					continue
				}
				covered := ownTLSHosts(p, h)
				if len(covered) == 0 {
					continue
				}
				for _, rh := range covered {
					t.tlsHosts[rh] = true
				}
				if cert != nil && t.certs[h] == nil {
					t.certs[h] = cert
					if t.certSecrets == nil {
						t.certSecrets = make(map[string]ObjectRef)
					}
					t.certSecrets[h] = ObjectRef{Kind: "Secret", Namespace: p.ing.Namespace, Name: tl.SecretName}
				}
			}
		}
	}
}

// ownTLSHosts are the Ingress's own hosts (rules, server-alias) that the
// spec.tls host h covers (itself, or those a one-label wildcard matches),
// as in ingress-nginx.
// Otherwise an Ingress could list another namespace's host, or a wildcard
// over it, and turn on that host's HTTPS redirect and HSTS.
func ownTLSHosts(p *parsed, h string) []string {
	var out []string
	own := make([]string, 0, len(p.ing.Spec.Rules)+len(p.cfg.ServerAlias))
	for _, r := range p.ing.Spec.Rules {
		own = append(own, r.Host)
	}
	for _, rh := range append(own, p.cfg.ServerAlias...) {
		rh, ok := normalizeHost(rh)
		if !ok || rh == "" {
			continue
		}
		if w, ok := wildcardOver(rh); rh == h || ok && w == h {
			out = append(out, rh)
		}
	}
	return out
}

// certificate parses a kubernetes.io/tls Secret. Errors never include key
// material.
func (t *translator) certificate(ns, name string) (*weirtls.Certificate, error) {
	if name == "" {
		return nil, errors.New("no secretName")
	}
	s := t.idx.secret(ns + "/" + name)
	if s == nil {
		return nil, fmt.Errorf("TLS secret %s/%s not found", ns, name)
	}
	crt, key := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
	c, err := weirtls.ParseKeyPair(crt, key)
	if err != nil {
		return nil, fmt.Errorf("TLS secret %s/%s: %w", ns, name, err)
	}
	return c, nil
}

// defaultCertificate parses --default-ssl-certificate's Secret.
func (t *translator) defaultCertificate() *weirtls.Certificate {
	ref := t.opts.DefaultSSLCertificate
	if ref == "" {
		return nil
	}
	ns, name, _ := strings.Cut(ref, "/")
	c, err := t.certificate(ns, name)
	if err != nil {
		t.problems = append(t.problems, Problem{Object: ObjectRef{Kind: "Secret", Namespace: ns, Name: name},
			Field: "--default-ssl-certificate", Reason: ReasonTLSSecret, Severity: Warning,
			Message: err.Error() + "; the self-signed default certificate is served"})
		return nil
	}
	return c
}
