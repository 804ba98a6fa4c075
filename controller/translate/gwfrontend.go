package translate

import (
	"crypto/x509"
	"fmt"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	weirtls "weir.dev/weir/tls"
)

// Client-certificate validation of a Gateway's HTTPS listeners
// (spec.tls.frontend): the CAs of the listener's port (a perPort entry, else
// the default) are verified in the TLS handshake of that port's socket, so
// a client without a certificate those CAs sign never reaches a route. It
// is per port, not per host, as the spec defines it; the Ingress side's
// auth-tls-* annotations check per request instead (tls/clientauth.go), and
// both read ca.crt with the same parser (weirtls.ParseCAs).

// ReasonClientCA is the problem of a caCertificateRef Weir cannot use.
const ReasonClientCA = "InvalidClientCACertificateRef"

// frontendCAs are the client CAs of one HTTPS port.
type frontendCAs struct {
	pool *x509.CertPool
	// insecure is AllowInsecureFallback: a certificate is asked for but
	// neither required nor verified.
	insecure bool
}

// frontendValidation is the validation that applies to a listener's port
// (nil for none) and the field it is in.
func frontendValidation(gwo *gatewayv1.Gateway, port gatewayv1.PortNumber) (*gatewayv1.FrontendTLSValidation, string) {
	if gwo.Spec.TLS == nil || gwo.Spec.TLS.Frontend == nil {
		return nil, ""
	}
	f := gwo.Spec.TLS.Frontend
	for i, p := range f.PerPort {
		if p.Port == port {
			return p.TLS.Validation, fmt.Sprintf("spec.tls.frontend.perPort[%d].tls.validation", i)
		}
	}
	return f.Default.Validation, "spec.tls.frontend.default.validation"
}

// listenerClientCAs resolves the client CAs of an HTTPS listener. Each bad
// reference sets ResolvedRefs False; when none is usable the listener is
// not accepted (NoValidCACertificate) and so not served: failing open would
// let in clients the user meant to keep out.
func (g *gw) listenerClientCAs(gl *gwListener) {
	v, field := frontendValidation(gl.gw.gw, gl.l.Port)
	if v == nil {
		return
	}
	var bundle []byte
	for i, ref := range v.CACertificateRefs {
		pem, reason, msg := g.caBundle(gl.gw.gw, ref)
		if reason != "" {
			g.problemAt(gl.gw.ref, fmt.Sprintf("%s.caCertificateRefs[%d]", field, i), ReasonClientCA, Warning,
				"listener %s: %s", gl.l.Name, msg)
			if gl.refsReason == "" {
				gl.refsReason, gl.refsMsg = reason, msg
			}
			continue
		}
		bundle = append(append(bundle, pem...), '\n')
	}
	pool, err := weirtls.ParseCAs(bundle) // each part parsed alone already
	if err != nil {
		gl.accepted, gl.acceptReason = false, string(gatewayv1.ListenerReasonNoValidCACertificate)
		gl.acceptMsg = "no caCertificateRef of spec.tls.frontend for this port resolved: " + gl.refsMsg
		return
	}
	gl.clientCAs = &frontendCAs{pool: pool, insecure: v.Mode == gatewayv1.AllowInsecureFallback}
}

// caBundle reads one caCertificateRef: a ConfigMap with ca.crt, in the
// Gateway's namespace or granted by a ReferenceGrant, whose PEM holds at
// least one CA certificate. A reason says what is wrong ("" when it is
// good).
func (g *gw) caBundle(gwo *gatewayv1.Gateway, ref gatewayv1.ObjectReference) (pem []byte, reason, msg string) {
	ns := gwo.Namespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	switch {
	case ref.Group != "" || ref.Kind != "ConfigMap":
		return nil, string(gatewayv1.ListenerReasonInvalidCACertificateKind),
			fmt.Sprintf("caCertificateRef %s %s: only core ConfigMaps are supported", kindName(&ref.Group, ref.Kind), ref.Name)
	case ns != gwo.Namespace && !g.granted(gatewayGroup, "Gateway", gwo.Namespace, "", "ConfigMap", ns, string(ref.Name)):
		return nil, string(gatewayv1.ListenerReasonRefNotPermitted),
			fmt.Sprintf("no ReferenceGrant in namespace %s allows this Gateway to use ConfigMap %s", ns, ref.Name)
	}
	cm := g.configMaps[ns+"/"+string(ref.Name)]
	if cm == nil {
		return nil, string(gatewayv1.ListenerReasonInvalidCACertificateRef), fmt.Sprintf("ConfigMap %s/%s not found", ns, ref.Name)
	}
	pem = []byte(cm.Data["ca.crt"])
	if _, err := weirtls.ParseCAs(pem); err != nil {
		return nil, string(gatewayv1.ListenerReasonInvalidCACertificateRef), fmt.Sprintf("ConfigMap %s/%s ca.crt: %v", ns, ref.Name, err)
	}
	return pem, "", ""
}
