// Package tls holds everything Weir needs to terminate and originate TLS:
// parsing kubernetes.io/tls Secrets into certificates, an SNI certificate
// store swapped atomically alongside the routing table, the self-signed
// default certificate, server and upstream *tls.Config builders and
// rotating session-ticket keys. The HTTP/2 server limits are set in one
// place, proxy.NewHTTPServer, for every listener.
//
// The package uses only the standard library; it never imports client-go, so a handshake can never wait on the API server:
// the controller parses Secrets, builds a Snapshot and publishes it with
// Store.Swap, and handshakes only ever read the current Snapshot.
//
// Callers usually import it as weirtls to keep crypto/tls available:
//
//	import weirtls "weir.dev/weir/tls"
//
// No function in this package puts private-key bytes into an error, and
// errors about a key never wrap the parser's own message, whose wording is
// not under our control.
package tls
