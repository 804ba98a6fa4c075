package translate

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"weir.dev/weir/proxy/compress"
)

// Inputs is everything translation reads.
type Inputs struct {
	Ingresses      []*networkingv1.Ingress
	IngressClasses []*networkingv1.IngressClass
	Services       []*corev1.Service
	EndpointSlices []*discoveryv1.EndpointSlice
	Secrets        []*corev1.Secret

	// The Gateway API objects (gateway.go). ReferenceGrants may come from
	// the v1 or the v1beta1 API (same layout).
	GatewayClasses  []*gatewayv1.GatewayClass
	Gateways        []*gatewayv1.Gateway
	HTTPRoutes      []*gatewayv1.HTTPRoute
	GRPCRoutes      []*gatewayv1.GRPCRoute
	ReferenceGrants []*gatewayv1.ReferenceGrant
	// Namespaces are read for listeners' allowedRoutes namespace selectors
	// (only their names and labels matter).
	Namespaces []*corev1.Namespace
	// ConfigMaps hold the CA bundles (ca.crt) of Gateways' client
	// certificate validation (spec.tls.frontend).
	ConfigMaps []*corev1.ConfigMap
	// HeaderConfigMaps are the ConfigMaps of headers that Ingresses name
	// (auth-proxy-set-headers, custom-headers) and that the global
	// ConfigMap names (add-headers, proxy-set-headers), with their data.
	HeaderConfigMaps []*corev1.ConfigMap
	// BackendTLSPolicies configure TLS to Services (gwbtls.go).
	BackendTLSPolicies []*gatewayv1.BackendTLSPolicy
	// ListenerSets add listeners to Gateways (gwlistenersets.go).
	ListenerSets []*gatewayv1.ListenerSet
	// TCPServices and UDPServices are the --tcp-services-configmap and
	// --udp-services-configmap ConfigMaps (nil: none; tcpservices.go).
	TCPServices *corev1.ConfigMap
	UDPServices *corev1.ConfigMap

	Options Options
}

// Options are the controller flags translation depends on.
type Options struct {
	// IngressClass is the legacy kubernetes.io/ingress.class value Weir
	// serves (default "weir").
	IngressClass string
	// ControllerClass is the IngressClass spec.controller Weir serves
	// (default "weir.dev/ingress-controller").
	ControllerClass string
	// DefaultBackendService is namespace/name of a Service answering
	// requests no rule matches ("" is Weir's built-in 404).
	DefaultBackendService string
	// DefaultSSLCertificate is namespace/name of the TLS Secret served to
	// clients whose SNI matches no host ("" is a self-signed certificate
	// made at start).
	DefaultSSLCertificate string
	// GatewayControllerName is the GatewayClass spec.controllerName Weir
	// serves (default "weir.dev/gateway-controller").
	GatewayControllerName string
	// AnnotationDefaults are annotation values (names without
	// annotations.Prefix) for Ingresses that do not set the annotation:
	// the global ConfigMap's per-route keys (controller/globalconfig).
	AnnotationDefaults map[string]string
	// HSTS replaces the Strict-Transport-Security value of TLS hosts ("":
	// the HSTS constant); DisableHSTS sends none (the ConfigMap's hsts).
	HSTS        string
	DisableHSTS bool
	// WatchWithoutClass serves Ingresses that name no class at all
	// (--watch-ingress-without-class); ClassByName also serves those whose
	// ingressClassName is IngressClass (--ingress-class-by-name).
	WatchWithoutClass bool
	ClassByName       bool
	// DisableExternalName refuses ExternalName Services as backends
	// (--disable-svc-external-name): their paths answer 503.
	DisableExternalName bool
	// SSLPassthrough honours the ssl-passthrough annotation
	// (--enable-ssl-passthrough; passthrough.go).
	SSLPassthrough bool
	// ReservedPorts are Weir's own listening ports, which TCP services may
	// not take.
	ReservedPorts []int
	// CustomHTTPErrors are the statuses (300-599) whose body the default
	// backend (--default-backend-service) replaces on every Ingress path
	// without its own custom-http-errors: the ConfigMap's
	// custom-http-errors. nil intercepts nothing.
	CustomHTTPErrors []int
	// Compression is the response compression of every Ingress path (the
	// ConfigMap's use-gzip, gzip-*, enable-brotli, brotli-*); the zero
	// value compresses nothing.
	Compression compress.Config
	// AddHeaders and ProxySetHeaders are "namespace/name" of ConfigMaps
	// (in HeaderConfigMaps) whose headers are set on every Ingress path's
	// responses and requests to backends ("": none); AllowedResponseHeaders
	// lists the headers custom-headers may set (the global ConfigMap's
	// add-headers, proxy-set-headers, global-allowed-response-headers).
	// Their problems name GlobalConfigMap.
	AddHeaders, ProxySetHeaders string
	AllowedResponseHeaders      []string
	GlobalConfigMap             ObjectRef
}

// Defaults for Options.
const (
	DefaultIngressClass    = "weir"
	DefaultControllerClass = "weir.dev/ingress-controller"
)

// ObjectRef names the object a problem is about.
type ObjectRef struct {
	Kind      string
	Namespace string
	Name      string
}

func (o ObjectRef) String() string { return o.Kind + " " + o.Namespace + "/" + o.Name }

// Severity of a problem.
type Severity string

const (
	Warning Severity = "Warning"
	Error   Severity = "Error"
)

// Problem is one thing wrong with an object. Reason is stable CamelCase: it
// is the Event reason and the metric label.
type Problem struct {
	Object   ObjectRef
	Field    string
	Reason   string
	Message  string
	Severity Severity
}

// Problem reasons raised by translation (annotation reasons come from the
// annotations package).
const (
	ReasonServiceNotFound     = "ServiceNotFound"
	ReasonServicePortNotFound = "ServicePortNotFound"
	ReasonNoReadyEndpoints    = "NoReadyEndpoints"
	ReasonPathConflict        = "PathConflict"
	ReasonInvalidPath         = "InvalidPath"
	ReasonInvalidHost         = "InvalidHost"
	ReasonCanaryWithoutMain   = "CanaryWithoutMain"
	ReasonCanaryConflict      = "CanaryConflict"
	ReasonDefaultBackend      = "DefaultBackendConflict"
	ReasonBackendSettings     = "BackendSettingsConflict"
	ReasonResourceBackend     = "ResourceBackendUnsupported"
	ReasonTLSSecret           = "InvalidTLSSecret"
	ReasonIngressDropped      = "IngressDropped"
	ReasonServerAlias         = "ServerAliasConflict"
	ReasonExternalName        = "ExternalNameDisabled"
)
