package translate

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"weir.dev/weir/proxy/table"
	weirtls "weir.dev/weir/tls"
)

// BackendTLSPolicy: TLS from Weir to a Service's endpoints, verified with
// the policy's CAs (ConfigMaps, ca.crt) or the system roots, the policy's
// hostname as SNI and as the name checked (or its subjectAltNames). It is
// the Gateway API's form of the Ingress side's proxy-ssl-* annotations and
// builds the same table.BackendTLS (weirtls.UpstreamConfig); only the
// policy's subjectAltNames need a check of their own.

// ReasonBackendTLSPolicy is the problem of a BackendTLSPolicy Weir cannot
// use as written.
const ReasonBackendTLSPolicy = "InvalidBackendTLSPolicy"

// PolicyStatus is the status Weir owns for one BackendTLSPolicy: one
// ancestor entry per Gateway whose routes use a Service the policy targets.
type PolicyStatus struct {
	Namespace, Name string
	Generation      int64
	Ancestors       []gatewayv1.PolicyAncestorStatus
}

// gwPolicy is one BackendTLSPolicy with what translation learned about it.
type gwPolicy struct {
	p   *gatewayv1.BackendTLSPolicy
	ref ObjectRef
	// acceptReason is "" when accepted; refsReason "" when every
	// caCertificateRef resolved.
	acceptReason, acceptMsg string
	refsReason, refsMsg     string
	tls                     *table.BackendTLS
	gateways                map[ObjectRef]bool // ancestors
	// opts are the settings tls was built from (nil when the policy
	// cannot be used); withCert its variants with a Gateway's client
	// certificate (gwbackendcert.go).
	opts     *weirtls.UpstreamOptions
	withCert map[ObjectRef]*table.BackendTLS
}

type policyTarget struct{ ns, svc, section string }

// readPolicies checks the BackendTLSPolicies and indexes, per Service and
// port name ("" for the whole Service), the one that takes precedence: the
// oldest, then the first by namespace/name; the others are Conflicted.
func (g *gw) readPolicies(list []*gatewayv1.BackendTLSPolicy) {
	list = append([]*gatewayv1.BackendTLSPolicy(nil), list...)
	sort.Slice(list, func(i, j int) bool { return olderMeta(&list[i].ObjectMeta, &list[j].ObjectMeta) })
	g.policies = map[policyTarget][]*gwPolicy{}
	for _, p := range list {
		gp := &gwPolicy{p: p, ref: ObjectRef{Kind: "BackendTLSPolicy", Namespace: p.Namespace, Name: p.Name}, gateways: map[ObjectRef]bool{}}
		g.policyList = append(g.policyList, gp)
		g.checkPolicy(gp)
		for _, t := range p.Spec.TargetRefs {
			if t.Group != "" || t.Kind != "Service" {
				continue // not a target Weir routes to: no ancestor, no status
			}
			key := policyTarget{ns: p.Namespace, svc: string(t.Name)}
			if t.SectionName != nil {
				key.section = string(*t.SectionName)
			}
			if prev := g.policies[key]; len(prev) > 0 {
				gp.acceptReason = string(gatewayv1.PolicyReasonConflicted)
				gp.acceptMsg = fmt.Sprintf("BackendTLSPolicy %s/%s, older, already applies to Service %s%s", prev[0].p.Namespace, prev[0].p.Name, t.Name, sectionSuffix(key.section))
			}
			g.policies[key] = append(g.policies[key], gp)
		}
	}
}

func sectionSuffix(s string) string {
	if s == "" {
		return ""
	}
	return " port " + s
}

// policiesFor are the policies of a Service port (by name), the one that
// applies first: those naming the port, else those of the whole Service.
func (g *gw) policiesFor(ns, svc, port string) []*gwPolicy {
	if ps := g.policies[policyTarget{ns, svc, port}]; len(ps) > 0 && port != "" {
		return ps
	}
	return g.policies[policyTarget{ns: ns, svc: svc}]
}

// checkPolicy resolves the CAs and builds the TLS configuration. A policy
// that cannot be used still applies to its Services: their connections
// fail (502), never fall back to unverified TLS or to plain HTTP.
func (g *gw) checkPolicy(gp *gwPolicy) {
	v := &gp.p.Spec.Validation
	opts := weirtls.UpstreamOptions{Verify: true, ServerName: string(v.Hostname)}
	switch {
	case v.WellKnownCACertificates != nil && len(v.CACertificateRefs) > 0:
		gp.acceptReason, gp.acceptMsg = string(gatewayv1.PolicyReasonInvalid), "caCertificateRefs and wellKnownCACertificates are exclusive"
	case v.WellKnownCACertificates != nil && *v.WellKnownCACertificates != gatewayv1.WellKnownCACertificatesSystem:
		gp.acceptReason = string(gatewayv1.PolicyReasonInvalid)
		gp.acceptMsg = fmt.Sprintf("wellKnownCACertificates %q is not supported (System is)", *v.WellKnownCACertificates)
	case v.WellKnownCACertificates != nil: // the system roots: CA stays empty
	default:
		opts.CA = g.policyCAs(gp)
	}
	if gp.acceptReason != "" {
		if gp.acceptReason == string(gatewayv1.PolicyReasonInvalid) { // the refs' problems are told one by one
			g.problemAt(gp.ref, "spec.validation", ReasonBackendTLSPolicy, Warning, "%s; connections to its Services fail", gp.acceptMsg)
		}
		gp.tls = refusingTLS(gp.ref, errors.New(gp.acceptMsg))
		return
	}
	bt, err := gp.build(opts)
	if err != nil {
		gp.acceptReason, gp.acceptMsg = string(gatewayv1.PolicyReasonInvalid), err.Error()
		gp.tls = refusingTLS(gp.ref, err)
		return
	}
	gp.tls, gp.opts = bt, &opts
}

// build is the backend TLS of the policy with opts. The key names the
// settings: a new policy version or a new CA bundle (a ConfigMap edit)
// gets new connections.
func (gp *gwPolicy) build(opts weirtls.UpstreamOptions) (*table.BackendTLS, error) {
	conf, err := weirtls.UpstreamConfig(opts)
	if err == nil && len(gp.p.Spec.Validation.SubjectAltNames) > 0 {
		err = checkSANs(conf, gp.p.Spec.Validation.SubjectAltNames)
	}
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(opts.CA)
	return &table.BackendTLS{Config: conf, Key: fmt.Sprintf("%s@%s ca=%x", gp.ref, gp.p.ResourceVersion, sum[:8])}, nil
}

// policyCAs reads the caCertificateRefs (ConfigMaps with ca.crt in the
// policy's namespace). With none usable the policy is not accepted.
func (g *gw) policyCAs(gp *gwPolicy) []byte {
	var bundle []byte
	for i, ref := range gp.p.Spec.Validation.CACertificateRefs {
		msg, reason := "", ""
		cm := g.configMaps[gp.p.Namespace+"/"+string(ref.Name)]
		switch {
		case ref.Group != "" || ref.Kind != "ConfigMap":
			reason = string(gatewayv1.BackendTLSPolicyReasonInvalidKind)
			msg = fmt.Sprintf("caCertificateRef %s %s: only core ConfigMaps are supported", kindName(&ref.Group, ref.Kind), ref.Name)
		case cm == nil:
			reason, msg = string(gatewayv1.BackendTLSPolicyReasonInvalidCACertificateRef), fmt.Sprintf("ConfigMap %s/%s not found", gp.p.Namespace, ref.Name)
		default:
			if _, err := weirtls.ParseCAs([]byte(cm.Data["ca.crt"])); err != nil {
				reason, msg = string(gatewayv1.BackendTLSPolicyReasonInvalidCACertificateRef), fmt.Sprintf("ConfigMap %s/%s ca.crt: %v", gp.p.Namespace, ref.Name, err)
			}
		}
		if reason != "" {
			g.problemAt(gp.ref, fmt.Sprintf("spec.validation.caCertificateRefs[%d]", i), ReasonBackendTLSPolicy, Warning, "%s", msg)
			if gp.refsReason == "" {
				gp.refsReason, gp.refsMsg = reason, msg
			}
			continue
		}
		bundle = append(append(bundle, cm.Data["ca.crt"]...), '\n')
	}
	if bundle == nil {
		gp.acceptReason = string(gatewayv1.BackendTLSPolicyReasonNoValidCACertificate)
		gp.acceptMsg = "no caCertificateRef resolved: " + gp.refsMsg
	}
	return bundle
}

// checkSANs makes conf verify the chain as before but accept the peer when
// one of its subject alternative names is one of sans, not by hostname.
func checkSANs(conf *tls.Config, sans []gatewayv1.SubjectAltName) error {
	roots := conf.RootCAs
	want := make([]string, 0, len(sans))
	for _, s := range sans {
		switch s.Type {
		case gatewayv1.HostnameSubjectAltNameType:
			want = append(want, "dns:"+strings.ToLower(string(s.Hostname)))
		case gatewayv1.URISubjectAltNameType:
			want = append(want, "uri:"+string(s.URI))
		default:
			return fmt.Errorf("subjectAltName type %q is not supported", s.Type)
		}
	}
	conf.InsecureSkipVerify = true //nolint:gosec // VerifyConnection below verifies the chain and the names
	conf.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("backend sent no certificate")
		}
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		leaf := cs.PeerCertificates[0]
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
			return fmt.Errorf("backend certificate: %w", err)
		}
		for _, w := range want {
			if hasSAN(leaf, w) {
				return nil
			}
		}
		return fmt.Errorf("backend certificate has none of the subjectAltNames %v", want)
	}
	return nil
}

func hasSAN(c *x509.Certificate, want string) bool {
	if name, ok := strings.CutPrefix(want, "dns:"); ok {
		return c.VerifyHostname(name) == nil
	}
	for _, u := range c.URIs {
		if "uri:"+u.String() == want {
			return true
		}
	}
	return false
}

// refusingTLS fails every handshake with err (the request gets 502).
func refusingTLS(ref ObjectRef, err error) *table.BackendTLS {
	refuse := func(tls.ConnectionState) error { return err }
	return &table.BackendTLS{Config: &tls.Config{InsecureSkipVerify: true, VerifyConnection: refuse}, Key: "invalid " + ref.String()} //nolint:gosec // VerifyConnection refuses every peer
}

// withPolicy applies the policy of a Service port to a resolved backend:
// its protocol gains TLS and its handshakes the policy's settings; the
// route's Gateways become the policy's ancestors.
func (g *gw) withPolicy(r *gwRoute, spec backendSpec, port string) backendSpec {
	ps := g.policiesFor(spec.ns, spec.name, port)
	if len(ps) == 0 {
		return spec
	}
	// Every policy for the port reports on these Gateways, the
	// conflicted ones too (they say why they do not apply).
	for _, gp := range ps {
		for _, p := range r.parents {
			if p.gw != nil {
				gp.gateways[p.gw.ref] = true
			}
		}
	}
	spec.tls, spec.policy = ps[0].tls, ps[0]
	switch spec.proto {
	case table.GRPC:
		spec.proto = table.GRPCS
	case table.HTTP1, table.H2C:
		spec.proto = table.HTTPS
	}
	return spec
}

// policyStatuses lists the status of every policy with an ancestor.
func (g *gw) policyStatuses() []PolicyStatus {
	var out []PolicyStatus
	for _, gp := range g.policyList {
		if len(gp.gateways) == 0 {
			continue
		}
		gen := gp.p.Generation
		acc := condition(string(gatewayv1.PolicyConditionAccepted), true, string(gatewayv1.PolicyReasonAccepted), "policy accepted", gen)
		if gp.acceptReason != "" {
			acc = condition(acc.Type, false, gp.acceptReason, gp.acceptMsg, gen)
		}
		refs := condition(string(gatewayv1.BackendTLSPolicyConditionResolvedRefs), true, string(gatewayv1.BackendTLSPolicyReasonResolvedRefs), "references resolved", gen)
		if gp.refsReason != "" {
			refs = condition(refs.Type, false, gp.refsReason, gp.refsMsg, gen)
		}
		refsList := make([]ObjectRef, 0, len(gp.gateways))
		for ref := range gp.gateways {
			refsList = append(refsList, ref)
		}
		sort.Slice(refsList, func(i, j int) bool {
			return gatewayLess(refsList[i].Namespace, refsList[i].Name, refsList[j].Namespace, refsList[j].Name)
		})
		st := PolicyStatus{Namespace: gp.p.Namespace, Name: gp.p.Name, Generation: gen}
		for _, ref := range refsList {
			group, kind, ns := gatewayv1.Group(gatewayGroup), gatewayv1.Kind("Gateway"), gatewayv1.Namespace(ref.Namespace)
			st.Ancestors = append(st.Ancestors, gatewayv1.PolicyAncestorStatus{
				AncestorRef:    gatewayv1.ParentReference{Group: &group, Kind: &kind, Namespace: &ns, Name: gatewayv1.ObjectName(ref.Name)},
				ControllerName: gatewayv1.GatewayController(g.ctrl),
				Conditions:     []metav1.Condition{acc, refs},
			})
		}
		out = append(out, st)
	}
	return out
}
