package translate

import (
	"crypto/x509"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"weir.dev/weir/proxy/table"
	weirtls "weir.dev/weir/tls"
)

// The Gateway API side of translation: the contract with the controller.
//
// Inputs carries the Gateway API objects as the informers hold them
// (GatewayClasses, Gateways, HTTPRoutes, GRPCRoutes from the v1 API,
// ReferenceGrants as v1 objects: the v1beta1 ReferenceGrant has the same
// layout, so the controller may watch either version and convert with a
// pointer conversion, (*gatewayv1.ReferenceGrant)(v1beta1Grant)).
// Translate decides everything: which GatewayClasses, Gateways and routes
// are Weir's, which listener each route attaches to, what each listener
// serves, and every status condition. The controller never recomputes any
// of it; it:
//
//  1. opens one socket per GatewayListener (a Gateway and a port), serves
//     its Table there, and for HTTPS serves Certificates by SNI (the
//     keys are listener hostnames with Gateway semantics: "*.example.com"
//     matches any number of labels but not "example.com"; a request whose
//     SNI matches no key gets DefaultCertificate, the certificate of a
//     listener without hostname, or the handshake fails when it is nil);
//  2. publishes the Gateway's addresses with GatewayStatus.WithAddresses
//     (the one seam: translation does not know the LoadBalancer Service);
//  3. writes GatewayClassStatus.Status, GatewayStatus.Status and the
//     route parents (MergeRouteParents) to the API server when they differ
//     from what is there. Conditions carry observedGeneration; their
//     lastTransitionTime is left zero: the writer sets it with
//     MergeConditions, which keeps the existing time when a condition's
//     status did not change.
//
// Objects are listed sorted by namespace and name (routes then by kind), so
// the result is byte-stable.
//
// Fast paths. Refresh (EndpointSlices changed) derives every table, the
// Ingress one and each GatewayListener's, with table.WithEndpoints and
// fills EndpointsOnly and ListenerEndpointsOnly (same index as
// GatewayListeners, never nil, possibly empty): publish each with
// proxy.Server.PublishEndpoints. RefreshRoutes (only HTTPRoutes or
// GRPCRoutes changed; pass their references) sets GatewaysOnly: the Ingress
// side is the previous result's, and a GatewayListener that is the previous
// result's pointer is unchanged, so only the others need publishing. Either
// may decline (ok false); then call Translate.

// DefaultGatewayControllerName is Options.GatewayControllerName's default:
// the GatewayClass spec.controllerName Weir serves.
const DefaultGatewayControllerName = "weir.dev/gateway-controller"

// GatewayListener is what one socket serves: the listeners of one Gateway
// that share a port (and therefore a protocol). Only listeners that are
// Programmed are on it; a port whose listeners are all invalid or
// conflicted has no GatewayListener.
type GatewayListener struct {
	// Gateway is the Gateway's namespace and name (Kind "Gateway").
	Gateway ObjectRef
	// Port is spec.listeners[].port.
	Port int32
	// Protocol is HTTP or HTTPS (TLS is terminated by Weir for HTTPS).
	Protocol gatewayv1.ProtocolType
	// Listeners names the listeners served on this port, in spec order.
	Listeners []gatewayv1.SectionName
	// Table routes the requests that arrive on this socket. Its host
	// matching follows the Gateway API (table.Options.GatewayHosts); a host no
	// listener accepts gets 404.
	Table *table.Table
	// Certificates maps the hostnames of HTTPS listeners ("a.example.com"
	// or "*.example.com") to their certificate (the first valid
	// certificateRef). Empty for HTTP.
	Certificates map[string]*weirtls.Certificate
	// DefaultCertificate is the certificate of the HTTPS listener without
	// hostname, if there is one.
	DefaultCertificate *weirtls.Certificate
	// ClientCAs, when set, must sign the client's certificate in the TLS
	// handshake (the Gateway's spec.tls.frontend for this port); with
	// ClientCertOptional (AllowInsecureFallback) a certificate is asked
	// for but neither required nor verified.
	ClientCAs          *x509.CertPool
	ClientCertOptional bool
	// CertificateSecrets names the Secret of each certificate, by hostname
	// ("" for DefaultCertificate), for the certificate expiry metric.
	CertificateSecrets map[string]ObjectRef
}

// GatewayClassStatus is the status Weir owns for one GatewayClass whose
// spec.controllerName is Options.GatewayControllerName.
type GatewayClassStatus struct {
	Name       string
	Generation int64
	// Status holds the Accepted condition and supportedFeatures: the
	// features Weir implements end to end, sorted by name.
	Status gatewayv1.GatewayClassStatus
}

// GatewayStatus is the status of one of Weir's Gateways (its class is one
// of Weir's accepted GatewayClasses).
type GatewayStatus struct {
	Namespace, Name string
	Generation      int64
	// Status holds the Accepted and Programmed conditions and one entry
	// per listener (supportedKinds, attachedRoutes, conditions).
	// Addresses is nil, and Programmed is computed as if an address were
	// assigned: the controller calls WithAddresses with what the
	// Gateway's LoadBalancer Service reports.
	Status gatewayv1.GatewayStatus
}

// RouteStatus is the part of a route's status Weir owns: one parents[]
// entry per parentRef that names one of Weir's Gateways (the parentRef
// copied verbatim, controllerName Weir's, both Accepted and ResolvedRefs
// conditions). Every route that has such a parentRef, or whose current
// status still holds an entry with Weir's controllerName, is listed (the
// latter with no Parents, so that the stale entries go). The controller
// merges with MergeRouteParents, which keeps other controllers' entries
// and replaces Weir's.
type RouteStatus struct {
	// Kind is "HTTPRoute" or "GRPCRoute".
	Kind            string
	Namespace, Name string
	Generation      int64
	Parents         []gatewayv1.RouteParentStatus
}
