// Package annotations turns an object's nginx.ingress.kubernetes.io/*
// annotations into typed, validated configuration. It is pure: no client, no
// clock. Every annotation Weir knows is an Entry of one registry, which both
// drives parsing (unknown and unsupported keys are reported, never silently
// ignored) and generates docs/annotations.md.
package annotations

import (
	"sort"
	"strings"
)

// Prefix is the annotation prefix Weir reads.
const Prefix = "nginx.ingress.kubernetes.io/"

// Scope says what an annotation applies to.
type Scope string

const (
	ScopeLocation Scope = "location" // the paths of the Ingress carrying it
	ScopeUpstream Scope = "upstream" // the backend (Service port)
	ScopeCanary   Scope = "canary"   // the canary split
	ScopeIngress  Scope = "ingress"  // the whole Ingress
)

// Risk grades what a wrong value can do.
type Risk string

const (
	RiskLow      Risk = "low"
	RiskMedium   Risk = "medium"
	RiskCritical Risk = "critical"
)

// Status is what Weir does with an annotation, for documentation and for
// migration reports.
type Status string

const (
	// Implemented: Weir does what ingress-nginx documents.
	Implemented Status = "Implemented"
	// NoOp: accepted silently; Weir's behaviour already gives what the
	// annotation asks for, or it only tunes nginx internals.
	NoOp Status = "NoOp"
	// NotImplemented: accepted with a warning; Consequence says what
	// happens instead.
	NotImplemented Status = "NotImplemented"
	// FailClosed: an access restriction Weir does not enforce; every path
	// of the Ingress answers 503.
	FailClosed Status = "FailClosed"
	// Rejected: configuration injection (snippets); never supported, the
	// value is ignored.
	Rejected Status = "Rejected"
)

// Entry describes one annotation.
type Entry struct {
	// Name is the key without Prefix.
	Name    string
	Scope   Scope
	Risk    Risk
	Default string
	Doc     string
	// Supported is false for annotations Weir recognises but does not
	// implement: an Ingress using one gets a warning.
	Supported bool
	// OnCanary marks the annotations read from a canary Ingress; every other
	// annotation of a canary Ingress is ignored (the main Ingress owns the
	// route).
	OnCanary bool
	// Snippet marks configuration-injection annotations, always rejected.
	Snippet bool
	// FailClosed marks annotations that restrict access. While one is not
	// Supported, or its value is invalid, every path of the Ingress answers
	// 503: Weir never serves a path whose protection it cannot enforce.
	FailClosed bool
	// Status summarises the flags above (filled by register when empty).
	Status Status
	// Consequence is one line saying what happens to an Ingress using the
	// annotation when Status is not Implemented, for example "the value is
	// ignored" or "every path of the Ingress answers 503".
	Consequence string
}

var entries = map[string]Entry{}

func register(es ...Entry) {
	for _, e := range es {
		if e.Status == "" {
			e.Status = statusOf(e)
		}
		if e.Consequence == "" {
			e.Consequence = defaultConsequence[e.Status]
		}
		entries[e.Name] = e
	}
}

func statusOf(e Entry) Status {
	switch {
	case e.Snippet:
		return Rejected
	case e.Supported:
		return Implemented
	case e.FailClosed:
		return FailClosed
	}
	return NotImplemented
}

var defaultConsequence = map[Status]string{
	NotImplemented: "the value is ignored; the Ingress gets a warning",
	FailClosed:     "every path of the Ingress answers 503",
	Rejected:       "the value is ignored; the Ingress gets a warning",
}

// All returns every registered annotation sorted by name.
func All() []Entry {
	out := make([]Entry, 0, len(entries)+len(weirEntries))
	for _, e := range entries {
		out = append(out, e)
	}
	for _, e := range weirEntries {
		e.Status = statusOf(e)
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the entry for a full or short annotation name.
func Lookup(name string) (Entry, bool) {
	e, ok := entries[strings.TrimPrefix(name, Prefix)]
	return e, ok
}

func init() {
	register(
		Entry{Name: "canary", Scope: ScopeCanary, Risk: RiskMedium, Default: "false", Supported: true, OnCanary: true,
			Doc: "Marks the Ingress as a canary of the main Ingress with the same host and path."},
		Entry{Name: "canary-weight", Scope: ScopeCanary, Risk: RiskLow, Default: "0", Supported: true, OnCanary: true,
			Doc: "Requests out of canary-weight-total sent to the canary (clamped into [0, total])."},
		Entry{Name: "canary-weight-total", Scope: ScopeCanary, Risk: RiskLow, Default: "100", Supported: true, OnCanary: true,
			Doc: "The total the weight is counted out of (at least 1)."},
		Entry{Name: "canary-by-header", Scope: ScopeCanary, Risk: RiskLow, Supported: true, OnCanary: true,
			Doc: "Header whose value always/never (or canary-by-header-value/-pattern) selects the canary."},
		Entry{Name: "canary-by-header-value", Scope: ScopeCanary, Risk: RiskLow, Supported: true, OnCanary: true,
			Doc: "Exact header value that selects the canary."},
		Entry{Name: "canary-by-header-pattern", Scope: ScopeCanary, Risk: RiskLow, Supported: true, OnCanary: true,
			Doc: "RE2 pattern (unanchored) matching header values that select the canary; ignored when a value is set."},
		Entry{Name: "canary-by-cookie", Scope: ScopeCanary, Risk: RiskLow, Supported: true, OnCanary: true,
			Doc: "Cookie whose value always/never selects or refuses the canary."},
		Entry{Name: "affinity-canary-behavior", Scope: ScopeCanary, Risk: RiskLow, Default: "sticky", Supported: true, OnCanary: true,
			Doc: "sticky: the canary keeps clients with the main route's affinity cookie; legacy: it sets no cookie."},
		Entry{Name: "use-regex", Scope: ScopeLocation, Risk: RiskLow, Default: "false", Supported: true,
			Doc: "Treat the Ingress's paths as case-insensitive regular expressions anchored at the start."},
		Entry{Name: "rewrite-target", Scope: ScopeLocation, Risk: RiskMedium, Supported: true,
			Doc: "Path sent upstream, with $1..$9 from the regex path; implies use-regex."},
		Entry{Name: "x-forwarded-prefix", Scope: ScopeLocation, Risk: RiskLow, Supported: true,
			Doc: "Value of X-Forwarded-Prefix sent upstream when a rewrite is active."},
		Entry{Name: "app-root", Scope: ScopeIngress, Risk: RiskLow, Supported: true,
			Doc: "Redirects exactly / to this path (302)."},
		Entry{Name: "ssl-redirect", Scope: ScopeLocation, Risk: RiskLow, Default: "true", Supported: true,
			Doc: "Redirect plain HTTP to HTTPS (308) on hosts with TLS."},
		Entry{Name: "force-ssl-redirect", Scope: ScopeLocation, Risk: RiskLow, Default: "false", Supported: true,
			Doc: "Redirect plain HTTP to HTTPS (308) even without TLS on the host."},
		Entry{Name: "backend-protocol", Scope: ScopeUpstream, Risk: RiskLow, Default: "HTTP", Supported: true,
			Doc: "Protocol to the backend: HTTP, HTTPS, GRPC, GRPCS, H2C (AUTO_HTTP is treated as HTTP)."},
		Entry{Name: "proxy-connect-timeout", Scope: ScopeLocation, Risk: RiskLow, Default: "5", Supported: true,
			Doc: "Seconds to establish a connection to an endpoint."},
		Entry{Name: "proxy-send-timeout", Scope: ScopeLocation, Risk: RiskLow, Default: "60", Supported: true,
			Doc: "Seconds allowed for writing the request to the endpoint."},
		Entry{Name: "proxy-read-timeout", Scope: ScopeLocation, Risk: RiskLow, Default: "60", Supported: true,
			Doc: "Seconds allowed between two reads from the endpoint."},
		Entry{Name: "proxy-body-size", Scope: ScopeLocation, Risk: RiskLow, Default: "1m", Supported: true,
			Doc: "Largest request body (bytes with optional k, m, g); 0 is unlimited; larger bodies get 413."},
		Entry{Name: "proxy-next-upstream", Scope: ScopeLocation, Risk: RiskLow, Default: "error timeout", Supported: true,
			Doc: "Failures retried on another endpoint: error, timeout, invalid_header, http_500/502/503/504/403/404/429, non_idempotent, off."},
		Entry{Name: "proxy-next-upstream-tries", Scope: ScopeLocation, Risk: RiskLow, Default: "3", Supported: true,
			Doc: "Attempts in all, the first included."},
		Entry{Name: "proxy-next-upstream-timeout", Scope: ScopeLocation, Risk: RiskLow, Default: "0", Supported: true,
			Doc: "Seconds all attempts may take together; 0 is unbounded."},
		Entry{Name: "load-balance", Scope: ScopeUpstream, Risk: RiskLow, Default: "least_conn", Supported: true, OnCanary: true,
			Doc: "Endpoint selection: least_conn (Weir's default), round_robin (ingress-nginx's default), ewma, and IPVS's sed (shortest expected delay: fewest in flight, ties in turn) and nq (never queue; the same as sed with Kubernetes' equal weights). For IPVS sh use upstream-hash-by: $remote_addr; for dh-like use $host or $request_uri."},
		Entry{Name: "upstream-hash-by", Scope: ScopeUpstream, Risk: RiskLow, Supported: true, OnCanary: true,
			Doc: "Consistent-hash key built from $request_uri, $uri, $host, $remote_addr, $binary_remote_addr, $http_NAME, $cookie_NAME, $arg_NAME and text. $remote_addr gives IPVS's sh (source hashing); $host or $request_uri a dh-like (destination hashing) spread."},
		Entry{Name: "upstream-hash-by-subset", Scope: ScopeUpstream, Risk: RiskLow, Default: "false", OnCanary: true,
			Consequence: "the key is hashed over every endpoint, not a subset", Doc: "Hash to a subset of endpoints (not implemented: the whole set is used)."},
		Entry{Name: "upstream-hash-by-subset-size", Scope: ScopeUpstream, Risk: RiskLow, Default: "3", OnCanary: true,
			Consequence: "the key is hashed over every endpoint, not a subset", Doc: "Subset size for upstream-hash-by-subset (not implemented)."},
		Entry{Name: "affinity", Scope: ScopeUpstream, Risk: RiskLow, Supported: true,
			Doc: "cookie: sticky sessions with an HttpOnly cookie; overrides load-balance and upstream-hash-by."},
		Entry{Name: "affinity-mode", Scope: ScopeUpstream, Risk: RiskLow, Default: "balanced", Supported: true,
			Doc: "balanced or persistent; Weir keeps clients on their endpoint while it is available in both modes."},
		Entry{Name: "session-cookie-name", Scope: ScopeUpstream, Risk: RiskLow, Default: "INGRESSCOOKIE", Supported: true,
			Doc: "Name of the affinity cookie."},
		Entry{Name: "session-cookie-path", Scope: ScopeUpstream, Risk: RiskLow, Default: "/", Supported: true,
			Doc: "Path attribute of the affinity cookie."},
		Entry{Name: "session-cookie-domain", Scope: ScopeUpstream, Risk: RiskLow, Supported: true,
			Doc: "Domain attribute of the affinity cookie."},
		Entry{Name: "session-cookie-expires", Scope: ScopeUpstream, Risk: RiskLow, Supported: true,
			Doc: "Seconds the affinity cookie lives (used when max-age is not set)."},
		Entry{Name: "session-cookie-max-age", Scope: ScopeUpstream, Risk: RiskLow, Supported: true,
			Doc: "Max-Age of the affinity cookie in seconds; without it the cookie lasts the browser session."},
		Entry{Name: "session-cookie-secure", Scope: ScopeUpstream, Risk: RiskLow, Default: "false", Supported: true,
			Doc: "Secure attribute of the affinity cookie."},
		Entry{Name: "session-cookie-samesite", Scope: ScopeUpstream, Risk: RiskLow, Supported: true,
			Doc: "SameSite attribute of the affinity cookie: None, Lax or Strict."},
		Entry{Name: "session-cookie-change-on-failure", Scope: ScopeUpstream, Risk: RiskLow, Default: "false", Supported: true,
			Doc: "Re-pin the client when its endpoint fails."},
		Entry{Name: "upstream-vhost", Scope: ScopeLocation, Risk: RiskLow, Supported: true,
			Doc: "Host header sent to the backend."},
		Entry{Name: "permanent-redirect", Scope: ScopeLocation, Risk: RiskLow, Supported: true,
			Doc: "Answer with a redirect to this literal URL."},
		Entry{Name: "permanent-redirect-code", Scope: ScopeLocation, Risk: RiskLow, Default: "301", Supported: true,
			Doc: "Status of permanent-redirect (300-308)."},
		Entry{Name: "temporal-redirect", Scope: ScopeLocation, Risk: RiskLow, Supported: true,
			Doc: "Answer with a redirect to this literal URL; wins over permanent-redirect."},
		Entry{Name: "temporal-redirect-code", Scope: ScopeLocation, Risk: RiskLow, Default: "302", Supported: true,
			Doc: "Status of temporal-redirect (300-308)."},
		Entry{Name: "allowlist-source-range", Scope: ScopeLocation, Risk: RiskCritical, Supported: true, FailClosed: true,
			Doc: "Comma-separated CIDRs allowed to reach the paths (403 otherwise); an invalid entry closes every path with 503."},
		Entry{Name: "whitelist-source-range", Scope: ScopeLocation, Risk: RiskCritical, Supported: true, FailClosed: true,
			Doc: "Alias of allowlist-source-range, read when that is absent."},
		Entry{Name: "denylist-source-range", Scope: ScopeLocation, Risk: RiskCritical, Supported: true, FailClosed: true,
			Doc: "Comma-separated CIDRs refused with 403 (checked before the allow list). In both lists an IPv4-mapped entry (`::ffff:10.0.0.0/104`) means its IPv4 range (`10.0.0.0/8`): IPv4 clients are matched by their IPv4 address."},
		Entry{Name: "server-alias", Scope: ScopeIngress, Risk: RiskLow, Supported: true,
			Doc: "Comma-separated extra host names served like the Ingress's rule hosts."},
	)
	registerCatalog()
	registerAccess()
	registerClientCert()
	registerBackendTLS()
	registerErrorPages()
	registerHeaders()
}
