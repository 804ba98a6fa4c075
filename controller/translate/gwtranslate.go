package translate

import (
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/features"

	"weir.dev/weir/proxy/table"
)

// gw is the Gateway API front end of one translation. It shares the
// translator's indexes (Services, EndpointSlices, Secrets) and problem list
// with the Ingress front end.
type gw struct {
	*translator
	ctrl       string
	classes    map[string]bool // Weir's accepted GatewayClasses
	namespaces map[string]*corev1.Namespace
	configMaps map[string]*corev1.ConfigMap           // by namespace/name
	grants     map[string][]*gatewayv1.ReferenceGrant // by namespace
	policies   map[policyTarget][]*gwPolicy           // BackendTLSPolicies by target, the one that applies first
	policyList []*gwPolicy
	// ListenerSets on Weir's Gateways, by reference and oldest first.
	listenerSets map[ObjectRef]*gwListenerSet
	setList      []*gwListenerSet
	gateways     map[ObjectRef]*gwGateway
	gwList       []*gwGateway
	routes       []*gwRoute
	generation   uint64
	// defaults are the backend settings of an object without annotations.
	defaults struct {
		timeouts table.Timeouts
		retry    table.RetryPolicy
	}
}

// supportedFeatures is what Weir implements end to end through the proxy;
// the conformance suite runs exactly the tests of these features, so a
// feature joins this list only with the code and the test that prove it.
var supportedFeatures = []features.FeatureName{
	features.SupportBackendTLSPolicy,
	features.SupportBackendTLSPolicySANValidation,
	features.SupportGateway,
	features.SupportGatewayAddressEmpty,
	features.SupportGatewayBackendClientCertificate,
	features.SupportGatewayFrontendClientCertificateValidation,
	features.SupportGatewayFrontendClientCertificateValidationInsecureFallback,
	features.SupportGatewayHTTPListenerIsolation,
	features.SupportGatewayHTTPSListenerDetectMisdirectedRequests,
	features.SupportGatewayPort8080,
	features.SupportGatewayStaticAddresses,
	features.SupportGRPCRoute,
	features.SupportGRPCRouteNamedRouteRule,
	features.SupportHTTPRoute,
	features.SupportListenerSet,
	features.SupportHTTPRoute303RedirectStatusCode,
	features.SupportHTTPRoute307RedirectStatusCode,
	features.SupportHTTPRoute308RedirectStatusCode,
	features.SupportHTTPRouteBackendProtocolH2C,
	features.SupportHTTPRouteBackendProtocolWebSocket,
	features.SupportHTTPRouteBackendRequestHeaderModification,
	features.SupportHTTPRouteBackendTimeout,
	features.SupportHTTPRouteCORS,
	features.SupportHTTPRouteHostRewrite,
	features.SupportHTTPRouteMethodMatching,
	features.SupportHTTPRouteNamedRouteRule,
	features.SupportHTTPRouteParentRefPort,
	features.SupportHTTPRoutePathRedirect,
	features.SupportHTTPRoutePathRewrite,
	features.SupportHTTPRoutePortRedirect,
	features.SupportHTTPRouteQueryParamMatching,
	features.SupportHTTPRouteRequestMirror,
	features.SupportHTTPRouteRequestMultipleMirrors,
	features.SupportHTTPRouteRequestPercentageMirror,
	features.SupportHTTPRouteRequestTimeout,
	features.SupportHTTPRouteResponseHeaderModification,
	features.SupportHTTPRouteSchemeRedirect,
	features.SupportReferenceGrant,
}

// translateGateways runs the Gateway front end and fills the Gateway side
// of res.
func (t *translator) translateGateways(in *Inputs, generation uint64, res *Result) {
	if len(in.GatewayClasses) == 0 && len(in.Gateways) == 0 && len(in.HTTPRoutes) == 0 && len(in.GRPCRoutes) == 0 && len(in.BackendTLSPolicies) == 0 && len(in.ListenerSets) == 0 {
		return
	}
	g := t.newGW(in, generation)
	res.GatewayClasses = g.classStatuses(in.GatewayClasses)
	g.readGateways(in.Gateways)
	g.readListenerSets(in.ListenerSets)
	g.readPolicies(in.BackendTLSPolicies)
	g.readRoutes(in.HTTPRoutes, in.GRPCRoutes)
	g.finish(res)
	res.BackendTLSPolicies = g.policyStatuses()
	res.ListenerSets = g.listenerSetStatuses()
}

func (t *translator) newGW(in *Inputs, generation uint64) *gw {
	g := &gw{translator: t, ctrl: t.opts.GatewayControllerName, classes: map[string]bool{},
		namespaces: make(map[string]*corev1.Namespace, len(in.Namespaces)),
		grants:     make(map[string][]*gatewayv1.ReferenceGrant), gateways: map[ObjectRef]*gwGateway{},
		generation: generation}
	for _, ns := range in.Namespaces {
		g.namespaces[ns.Name] = ns
	}
	g.configMaps = make(map[string]*corev1.ConfigMap, len(in.ConfigMaps))
	for _, cm := range in.ConfigMaps {
		g.configMaps[cm.Namespace+"/"+cm.Name] = cm
	}
	cfg := t.defaultConfig()
	g.defaults.timeouts = table.Timeouts{Connect: cfg.Timeouts.Connect, Send: cfg.Timeouts.Send, Read: cfg.Timeouts.Read}
	g.defaults.retry = retryPolicy(cfg.NextUpstream)
	for _, rg := range in.ReferenceGrants {
		g.grants[rg.Namespace] = append(g.grants[rg.Namespace], rg)
	}
	return g
}

// finish attaches the routes read, builds the Gateways' listener tables and
// lists the status (routes sorted by namespace, name and kind).
func (g *gw) finish(res *Result) {
	for _, r := range g.routes {
		g.attach(r)
	}
	res.Gateways = make([]GatewayStatus, 0, len(g.gwList))
	res.Routes = make([]RouteStatus, 0, len(g.routes))
	for _, gg := range g.gwList {
		res.GatewayListeners = append(res.GatewayListeners, g.buildListeners(gg)...)
		res.Gateways = append(res.Gateways, gg.status())
	}
	for _, r := range g.routes {
		if st, ok := r.status(g.ctrl); ok {
			res.Routes = append(res.Routes, st)
		}
	}
	sortRouteStatuses(res.Routes)
}

func sortRouteStatuses(rs []RouteStatus) {
	slices.SortFunc(rs, func(a, b RouteStatus) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Kind, b.Kind)
	})
}

// classStatuses accepts every GatewayClass whose controllerName is Weir's,
// unless it points at parameters (Weir takes none).
func (g *gw) classStatuses(classes []*gatewayv1.GatewayClass) []GatewayClassStatus {
	var out []GatewayClassStatus
	for _, c := range classes {
		if string(c.Spec.ControllerName) != g.ctrl {
			continue
		}
		cond := condition(string(gatewayv1.GatewayClassConditionStatusAccepted), true,
			string(gatewayv1.GatewayClassReasonAccepted), "Weir serves this class", c.Generation)
		if c.Spec.ParametersRef != nil {
			cond = condition(string(gatewayv1.GatewayClassConditionStatusAccepted), false,
				string(gatewayv1.GatewayClassReasonInvalidParameters), "Weir takes no parameters; remove parametersRef", c.Generation)
		} else {
			g.classes[c.Name] = true
		}
		st := gatewayv1.GatewayClassStatus{Conditions: []metav1.Condition{cond}, SupportedFeatures: featureList()}
		out = append(out, GatewayClassStatus{Name: c.Name, Generation: c.Generation, Status: st})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// featureList is supportedFeatures as the status lists them: sorted by name
// (the API requires it).
func featureList() []gatewayv1.SupportedFeature {
	out := make([]gatewayv1.SupportedFeature, 0, len(supportedFeatures))
	for _, f := range supportedFeatures {
		out = append(out, gatewayv1.SupportedFeature{Name: gatewayv1.FeatureName(f)})
	}
	slices.SortFunc(out, func(a, b gatewayv1.SupportedFeature) int { return strings.Compare(string(a.Name), string(b.Name)) })
	return out
}

// condition builds a status condition; lastTransitionTime is left to the
// writer (MergeConditions).
func condition(typ string, status bool, reason, msg string, gen int64) metav1.Condition {
	s := metav1.ConditionFalse
	if status {
		s = metav1.ConditionTrue
	}
	return metav1.Condition{Type: typ, Status: s, Reason: reason, Message: msg, ObservedGeneration: gen}
}

// olderMeta orders objects oldest first, then by namespace/name: the Gateway
// API's tie-break between routes.
func olderMeta(a, b *metav1.ObjectMeta) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}
