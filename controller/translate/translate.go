package translate

import (
	"crypto/x509"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"weir.dev/weir/annotations"
	"weir.dev/weir/proxy/stream"
	"weir.dev/weir/proxy/table"
	weirtls "weir.dev/weir/tls"
)

// Result is the outcome of one translation.
type Result struct {
	// Table is nil only when building it failed; the caller then keeps
	// serving its previous table.
	Table *table.Table
	// Certificates maps TLS host names (exact or "*.x") to certificates
	// from valid Secrets.
	Certificates map[string]*weirtls.Certificate
	// CertificateSecrets names the Secret of each Certificates entry (for
	// the certificate expiry metric).
	CertificateSecrets map[string]ObjectRef
	// DefaultCertificate is --default-ssl-certificate's, when set and valid.
	DefaultCertificate *weirtls.Certificate
	// ClientCertHosts are the hosts whose handshakes ask for a client
	// certificate (auth-tls-secret), with the CAs to name (nil: none).
	ClientCertHosts map[string]*x509.CertPool
	// Passthrough maps the hosts of ssl-passthrough Ingresses to the
	// backend their TLS connections are spliced to (passthrough.go); its
	// endpoints are Table.Endpoints(backend).
	Passthrough map[string]*table.Backend
	// PassthroughTerminated are exact hosts Weir terminates although a
	// wildcard of Passthrough covers them (an exact host wins).
	PassthroughTerminated []string
	// TCPServices and UDPServices are the services ConfigMaps' valid
	// entries, by port (tcpservices.go); tcpUses names their Services.
	TCPServices []stream.Service
	UDPServices []stream.Service
	tcpUses     map[string]bool
	// Problems, sorted by object, field and reason.
	Problems []Problem
	// EndpointsOnly, when not nil, says that Table differs from the table
	// it was refreshed from (Table.DerivedFrom) only in the endpoints of
	// these backends (by index).
	EndpointsOnly []int
	// HostsChanged, when not nil, says that Table is the previous result's
	// with the routes of these hosts replaced (table.WithHosts, by the
	// Ingress fast path): Table.Changes names the routes and backends that
	// differ, the others are shared with Table.DerivedFrom.
	HostsChanged []string

	// The Gateway API side (gateway.go): one entry per Gateway and port
	// with its own table, sorted by Gateway then port; and the status
	// Weir owns, sorted by namespace and name.
	GatewayListeners []*GatewayListener
	// ListenerEndpointsOnly is EndpointsOnly for each GatewayListener
	// (same index) after a Refresh; nil after a full translation.
	ListenerEndpointsOnly [][]int
	// GatewaysOnly is set by RefreshRoutes: the Ingress side is the
	// previous result's, and only the GatewayListeners that are not the
	// previous result's pointers changed.
	GatewaysOnly   bool
	GatewayClasses []GatewayClassStatus
	Gateways       []GatewayStatus
	Routes         []RouteStatus
	// BackendTLSPolicies is the status of each BackendTLSPolicy that
	// applies to a Service a route of Weir's uses.
	BackendTLSPolicies []PolicyStatus
	// ListenerSets is the status of each ListenerSet on Weir's Gateways.
	ListenerSets []ListenerSetStatus

	// idx holds the object index of the latest inputs this result stands
	// for (index.go): Refresh updates it even when it returns the result
	// unchanged.
	idx *indexHolder
	// ing is what the Ingress fast path reuses (ingrefresh.go); nil when
	// the table could not be built.
	ing *ingState
}

// indexHolder lets derived results share one index.
type indexHolder struct{ x *objIndex }

// parsed is one of Weir's Ingresses with its annotations read.
type parsed struct {
	ing    *networkingv1.Ingress
	ref    ObjectRef
	cfg    *annotations.Config
	canary bool
	// hostDefault: its spec.defaultBackend was considered for one of its
	// hosts (taken, or refused with a problem).
	hostDefault bool
	access      *accessChecks // built on first use (access.go)
}

// conflictKey identifies a route for the oldest-wins rule.
type conflictKey struct {
	host, path string
	ptype      table.PathType
}

// routeEntry is a main route and what has been attached to it.
type routeEntry struct {
	route   *table.Route
	owner   *parsed
	aliases []*table.Route // copies of the route under server-alias hosts
	canary  *parsed
}

type translator struct {
	opts Options
	idx  *objIndex

	problems []Problem
	routes   map[conflictKey]*routeEntry
	list     []*table.Route
	// hosts are the hosts that have main routes, each with the one Ingress
	// whose routes it has so far (nil: several); isAliasOf reads it.
	hosts map[string]*parsed
	order int

	backends map[backendKey]*backendEntry
	balance  map[string]balanceOwner // upstream settings per Service port
	defaults *annotations.Config     // Parse(nil), shared by Ingresses without nginx annotations
	ingDefs  *annotations.Config     // with Options.AnnotationDefaults (globaldefaults.go)

	tlsHosts    map[string]bool
	certs       map[string]*weirtls.Certificate
	certSecrets map[string]ObjectRef      // the Secret of each certs entry
	clientHosts map[string]*x509.CertPool // auth-tls-secret (clientcert.go)

	def      *table.Action
	defOwner *parsed

	hostOwner    map[string]*parsed // the oldest main Ingress naming each host
	hostDefaults []hostDefault      // implicit "Prefix /" fallbacks, in claim order

	extras extras // error pages, mirrors, compression (errorpages.go)
	// streamProto is set while resolving TCP or UDP services (tcpservices.go).
	streamProto corev1.Protocol

	headers headerState // headers ConfigMaps (headers.go)
}

// Translate builds the routing table from in. generation is stamped on the
// table.
func Translate(in *Inputs, generation uint64) *Result {
	t := newTranslator(in)
	mains, canaries := splitCanaries(t.ours(in))
	t.collectTLS(mains)
	defCert := t.defaultCertificate()
	t.addIngresses(mains, canaries)
	t.addDefaultBackendService()
	tb, err := table.New(generation, t.list, t.def)
	if err != nil {
		t.problems = append(t.problems, Problem{Object: ObjectRef{Kind: "Table"}, Reason: "TableBuildFailed",
			Message: err.Error(), Severity: Error})
		tb = nil
	}
	res := &Result{Table: tb, Certificates: t.certs, CertificateSecrets: t.certSecrets, DefaultCertificate: defCert, ClientCertHosts: t.clientHosts, idx: &indexHolder{t.idx}}
	res.Passthrough, res.PassthroughTerminated = t.passthrough(mains, canaries) // passthrough.go
	t.streamServices(in, res)                                                   // tcpservices.go
	t.translateGateways(in, generation, res)
	res.Problems = sortProblems(t.problems)
	if tb != nil {
		res.ing = newIngState(in, t, mains, res.Problems) // ingrefresh.go
	}
	return res
}

// splitCanaries separates canary Ingresses from main ones, keeping the
// order.
func splitCanaries(ps []*parsed) (mains, canaries []*parsed) {
	for _, p := range ps {
		if p.canary {
			canaries = append(canaries, p)
		} else {
			mains = append(mains, p)
		}
	}
	return mains, canaries
}

// addIngresses adds the routes of the main Ingresses, the host defaults
// and then the canaries; the Ingress fast path runs it on a subset.
func (t *translator) addIngresses(mains, canaries []*parsed) {
	for _, p := range mains {
		t.addMain(p)
		t.checkUnusedDefault(p)
	}
	t.addHostDefaults()
	for _, p := range canaries {
		t.addCanary(p)
	}
}

func newTranslator(in *Inputs) *translator {
	return newTranslatorWith(in, buildIndex(in))
}

// newTranslatorWith is newTranslator over an existing index.
func newTranslatorWith(in *Inputs, idx *objIndex) *translator {
	return &translator{
		opts:     in.Options.withDefaults(),
		idx:      idx,
		routes:   make(map[conflictKey]*routeEntry, 2*len(in.Ingresses)),
		hosts:    make(map[string]*parsed, len(in.Ingresses)),
		backends: make(map[backendKey]*backendEntry, min(len(in.Services), len(in.Ingresses))),
		balance:  make(map[string]balanceOwner, min(len(in.Services), len(in.Ingresses))),
		tlsHosts: make(map[string]bool),
		certs:    make(map[string]*weirtls.Certificate),

		hostOwner: make(map[string]*parsed, len(in.Ingresses)),
		headers:   headerState{list: in.HeaderConfigMaps},
	}
}

// ours selects Weir's Ingresses, oldest first (creation time, then
// namespace/name), and reads their annotations.
func (t *translator) ours(in *Inputs) []*parsed {
	var ings []*networkingv1.Ingress
	for _, ing := range in.Ingresses {
		if IsWeirs(ing, in.IngressClasses, t.opts) {
			ings = append(ings, ing)
		}
	}
	sort.Slice(ings, func(i, j int) bool { return older(ings[i], ings[j]) })
	out := make([]*parsed, 0, len(ings))
	for _, ing := range ings {
		p := &parsed{ing: ing, ref: ObjectRef{Kind: "Ingress", Namespace: ing.Namespace, Name: ing.Name}}
		var ps []annotations.Problem
		if _, marked := ing.Annotations[canaryKey]; marked && annotations.IsCanary(ing.Annotations) {
			p.canary = true
			p.cfg, ps = annotations.ParseCanary(ing.Annotations)
		} else {
			p.cfg, ps = t.parse(ing.Annotations)
		}
		for _, a := range ps {
			t.problems = append(t.problems, Problem{Object: p.ref, Field: "metadata.annotations[" + a.Field + "]",
				Reason: a.Reason, Message: a.Message, Severity: Severity(a.Severity)})
		}
		if p.cfg.DropIngress {
			t.problem(p, "metadata.annotations", ReasonIngressDropped, Error, "an annotation is invalid in a way that invalidates the whole Ingress; none of its paths is served")
			continue
		}
		out = append(out, p)
	}
	return out
}

// canaryKey is the canary annotation, checked for presence first so that
// the many Ingresses without it cost no parse error.
const canaryKey = annotations.Prefix + "canary"

// parse reads an ordinary Ingress's annotations. Most Ingresses carry no
// nginx.ingress.kubernetes.io/ or weir.dev/ annotation at all; they share one parsed default configuration
// (translation never changes a Config).
func (t *translator) parse(ann map[string]string) (*annotations.Config, []annotations.Problem) {
	for k := range ann {
		if strings.HasPrefix(k, annotations.Prefix) || strings.HasPrefix(k, annotations.WeirPrefix) {
			return annotations.Parse(t.withDefaults(ann))
		}
	}
	return t.ingressDefaults(), nil
}

// defaultConfig is the configuration of an object without annotations:
// the defaults the Gateway API's backends share with plain Ingresses.
func (t *translator) defaultConfig() *annotations.Config {
	if t.defaults == nil {
		t.defaults, _ = annotations.Parse(nil)
	}
	return t.defaults
}

func older(a, b *networkingv1.Ingress) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	return a.Name < b.Name
}

func (t *translator) problem(p *parsed, field, reason string, sev Severity, format string, args ...any) {
	t.problemAt(p.ref, field, reason, sev, format, args...)
}

// problemAt records a problem about any object, of either source.
func (t *translator) problemAt(ref ObjectRef, field, reason string, sev Severity, format string, args ...any) {
	t.problems = append(t.problems, Problem{Object: ref, Field: field, Reason: reason, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

func sortProblems(ps []Problem) []Problem {
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if a.Object != b.Object {
			return a.Object.String() < b.Object.String()
		}
		if a.Field != b.Field {
			return a.Field < b.Field
		}
		if a.Reason != b.Reason {
			return a.Reason < b.Reason
		}
		return a.Message < b.Message
	})
	out := ps[:0]
	for i, p := range ps {
		if i > 0 && p == ps[i-1] {
			continue
		}
		out = append(out, p)
	}
	return out
}

// wildcardOver is the one-label wildcard that covers host ("*.example.com"
// for "app.example.com"); false for a wildcard or a name without a dot.
func wildcardOver(host string) (string, bool) {
	i := strings.IndexByte(host, '.')
	if i <= 0 || strings.HasPrefix(host, "*.") {
		return "", false
	}
	return "*" + host[i:], true
}

// normalizeHost lower-cases a rule host and checks its shape: a DNS name, or
// "*." followed by one.
func normalizeHost(h string) (string, bool) {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	rest := strings.TrimPrefix(h, "*.")
	if h == "" {
		return "", true
	}
	if strings.Contains(rest, "*") || rest == "" {
		return h, false
	}
	for _, label := range strings.Split(rest, ".") {
		if label == "" || len(label) > 63 {
			return h, false
		}
	}
	return h, true
}
