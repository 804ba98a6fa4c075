package proxy

import (
	"net/http"
	"net/url"

	"weir.dev/weir/proxy/table"
	weirtls "weir.dev/weir/tls"
)

// The request headers of auth-tls-*, set as ingress-nginx sets them; a
// client's own values of these are always removed on such routes, so a
// backend can trust what it reads there.
const (
	hdrClientVerify    = "Ssl-Client-Verify"
	hdrClientSubjectDN = "Ssl-Client-Subject-Dn"
	hdrClientIssuerDN  = "Ssl-Client-Issuer-Dn"
	hdrClientCert      = "Ssl-Client-Cert"
)

// clientCert applies the route's client-certificate policy (auth-tls-*)
// to the request's connection. A certificate missing (mode on) or refused
// answers 400, or redirects to auth-tls-error-page; a subject that
// auth-tls-match-cn refuses answers 403. It returns false when it
// answered. Plain-HTTP requests carry no certificate.
func (s *Server) clientCert(w http.ResponseWriter, r *http.Request, a *table.Action, ex *exchange) bool {
	p := a.ClientCert
	v := p.Check(r.TLS)
	h := r.Header
	delete(h, hdrClientVerify)
	delete(h, hdrClientSubjectDN)
	delete(h, hdrClientIssuerDN)
	delete(h, hdrClientCert)
	switch {
	case v.OK:
		h[hdrClientVerify] = []string{v.Verify}
		if v.Leaf != nil {
			h[hdrClientSubjectDN] = []string{headerSafe(v.Leaf.Subject.String())}
			h[hdrClientIssuerDN] = []string{headerSafe(v.Leaf.Issuer.String())}
			if p.PassCertificate {
				h[hdrClientCert] = []string{weirtls.EscapedPEM(v.Leaf)}
			}
		}
		return true
	case v.Forbidden:
		ex.status = s.answer(w, http.StatusForbidden, "forbidden (client certificate subject)")
	case p.ErrorPage != "":
		w.Header()["Location"] = []string{p.ErrorPage}
		ex.status = s.answer(w, http.StatusFound, "client certificate required: "+p.ErrorPage)
	case v.Leaf == nil:
		ex.status = s.answer(w, http.StatusBadRequest, "no required SSL certificate was sent")
	default:
		ex.status = s.answer(w, http.StatusBadRequest, "the SSL certificate error")
	}
	return false
}

// headerSafe keeps a distinguished name that is printable ASCII as it is
// and URL-escapes any other: the name comes from the certificate, which
// with optional_no_ca nobody verified.
func headerSafe(v string) string {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return url.PathEscape(v)
		}
	}
	return v
}
