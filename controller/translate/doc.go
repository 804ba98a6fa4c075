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
// ImplementationSpecific paths are regular expressions (CANARY.md section
// 5). The same host, path and type in two Ingresses: the oldest wins and
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
// a route are problems (CANARY.md sections 2 and 6).
//
// # Endpoint-only changes
//
// Refresh re-resolves the endpoints of changed Services on a previous
// result; a property test checks that it equals a full Translate.
package translate
