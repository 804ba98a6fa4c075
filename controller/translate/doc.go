// Package translate turns a snapshot of Kubernetes objects into Weir's
// routing table. Translate is a pure function: the same Inputs give the same
// table and problems, byte for byte, with no client, clock or randomness. A
// bad object costs only its own routes; its problems are returned as data
// (Problem: object, field, reason, message, severity; the reason is also
// the Event reason and the metric label).
//
// # Which Ingresses
//
// IsWeirs: spec.ingressClassName naming an IngressClass whose controller is
// Options.ControllerClass; else the legacy kubernetes.io/ingress.class
// annotation equal to Options.IngressClass; else, with no class at all,
// when one of Weir's IngressClasses is the cluster default.
//
// # Routes
//
// Ingresses are taken oldest first (creation time, then namespace/name).
// Hosts are lower-cased; "*.x" is a one-label wildcard; no host is the
// catch-all. Exact stays Exact; Prefix and ImplementationSpecific are
// Prefix, except on an Ingress with use-regex or rewrite-target, where
// ImplementationSpecific paths are regular expressions (docs/routing.md). The same host, path and type in two Ingresses: the oldest wins and
// the newer one gets a PathConflict problem. spec.defaultBackend follows
// ingress-nginx (hostdefault.go).
//
// # Backends
//
// A Service port (by number or name) resolves through the Service's
// EndpointSlices (label kubernetes.io/service-name) to the slice port with
// the Service port's name, never the ClusterIP. Ready endpoints (an unset
// condition counts as ready) that are not terminating are used; with none,
// the serving ones, terminating included. All address families are used.
// ExternalName Services give one endpoint "name:port", resolved when
// connecting. A missing Service or port, or no endpoint, is a problem and
// the path answers 503. Backends are shared by pointer per Service port and
// settings.
//
// # Defaults that annotations do not change
//
//   - Balancing: least_conn (load-balance may pick round_robin or ewma;
//     upstream-hash-by and affinity override it).
//   - Passive health: three consecutive connection failures eject an
//     endpoint for ten seconds; 5xx responses do not count.
//   - Active health checks: none unless the weir.dev/health-check-*
//     annotations ask (ingress-nginx has no such annotation); otherwise Weir
//     relies on the readiness the EndpointSlices report plus passive
//     ejection.
//   - Retries: proxy-next-upstream's defaults, three tries on error and
//     timeout, never across main and canary.
//   - Timeouts: connect 5s, send 60s, read 60s.
//
// # Canary
//
// Canary Ingresses are applied after every main Ingress: each canary path
// pairs with the main route of the same host, path string and type; a
// canary defaultBackend pairs with the default an Ingress without rules
// set. Unpaired paths, hosts without a main Ingress and second canaries on
// a route are problems (docs/canary.md, "Which route a canary belongs to").
//
// # Two sources
//
// The source-neutral part (backends.go, index.go, refresh.go, tls.go)
// resolves a Service port, by name or number, to endpoints and parses TLS
// Secrets for both front ends, and records problems about any object
// (problemAt). The Ingress front end (translate.go, routes.go, action.go,
// hostdefault.go, default.go, class.go) builds Result.Table. The Gateway
// API front end (gw*.go; the contract with the controller is in
// gateway.go, the user-facing behaviour in docs/gateway-api.md) builds one
// table per Gateway and port, with the Gateway API's hostname semantics
// (table.Options.GatewayHosts), and computes every status condition as data.
//
// # Fast paths
//
// Refresh re-resolves the endpoints of changed Services on a previous
// result, in the Ingress table and every Gateway listener's; RefreshRoutes
// translates again only the Gateways that changed HTTPRoutes or GRPCRoutes
// touch. Property tests check that both equal a full Translate.
package translate
