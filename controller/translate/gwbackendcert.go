package translate

import (
	"crypto/sha256"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"weir.dev/weir/proxy/table"
)

// The client certificate a Gateway presents to its TLS backends
// (spec.tls.backend.clientCertificateRef): a kubernetes.io/tls Secret in the
// Gateway's namespace or granted by a ReferenceGrant. It joins the backend
// TLS of the BackendTLSPolicies its routes' Services have, as tls.crt and
// tls.key of proxy-ssl-secret do on the Ingress side.

// backendClientCert resolves a Gateway's client certificate for backends;
// a bad reference sets the Gateway's ResolvedRefs False and no certificate
// is presented (a backend that requires one refuses the handshake: 502).
func (g *gw) backendClientCert(gg *gwGateway) {
	tlsCfg := gg.gw.Spec.TLS
	if tlsCfg == nil || tlsCfg.Backend == nil || tlsCfg.Backend.ClientCertificateRef == nil {
		return
	}
	gg.backendRefs = true
	ref := tlsCfg.Backend.ClientCertificateRef
	ns := gg.gw.Namespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	bad := string(gatewayv1.GatewayReasonInvalidClientCertificateRef)
	switch {
	case (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Secret"):
		gg.backendReason, gg.backendMsg = bad, fmt.Sprintf("clientCertificateRef %s %s: only core Secrets are supported", kindName(ref.Group, derefKind(ref.Kind, "Secret")), ref.Name)
	case ns != gg.gw.Namespace && !g.granted(gatewayGroup, "Gateway", gg.gw.Namespace, "", "Secret", ns, string(ref.Name)):
		gg.backendReason = string(gatewayv1.GatewayReasonRefNotPermitted)
		gg.backendMsg = fmt.Sprintf("no ReferenceGrant in namespace %s allows this Gateway to use Secret %s", ns, ref.Name)
	default:
		cert, err := g.certificate(ns, string(ref.Name))
		if err != nil {
			gg.backendReason, gg.backendMsg = bad, err.Error()
			break
		}
		gg.backendCert = cert
	}
	if gg.backendReason != "" {
		g.problemAt(gg.ref, "spec.tls.backend.clientCertificateRef", ReasonTLSSecret, Warning, "%s; no client certificate is presented to backends", gg.backendMsg)
	}
}

// backendRefsCondition is the Gateway's ResolvedRefs condition, present
// only when it names a backend client certificate.
func (gg *gwGateway) backendRefsCondition(gen int64) (metav1.Condition, bool) {
	if !gg.backendRefs {
		return metav1.Condition{}, false
	}
	if gg.backendReason != "" {
		return condition(string(gatewayv1.GatewayConditionResolvedRefs), false, gg.backendReason, gg.backendMsg, gen), true
	}
	return condition(string(gatewayv1.GatewayConditionResolvedRefs), true, string(gatewayv1.GatewayReasonResolvedRefs), "references resolved", gen), true
}

// withClientCert is a policy's backend TLS with the Gateway's client
// certificate added, made once per policy and Gateway.
func (g *gw) withClientCert(gg *gwGateway, bt *table.BackendTLS, gp *gwPolicy) *table.BackendTLS {
	if gg == nil || gg.backendCert == nil || gp == nil || gp.opts == nil {
		return bt
	}
	if c := gp.withCert[gg.ref]; c != nil {
		return c
	}
	opts := *gp.opts
	opts.ClientCertificate = gg.backendCert
	out, err := gp.build(opts)
	if err != nil {
		return refusingTLS(gp.ref, err)
	}
	sum := sha256.Sum256(gg.backendCert.Leaf().Raw)
	out.Key = fmt.Sprintf("%s client=%x", out.Key, sum[:8])
	if gp.withCert == nil {
		gp.withCert = map[ObjectRef]*table.BackendTLS{}
	}
	gp.withCert[gg.ref] = out
	return out
}
