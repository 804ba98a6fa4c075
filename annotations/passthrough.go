package annotations

// ssl-passthrough is parsed with the location annotations (Parse); whether
// it takes effect depends on --enable-ssl-passthrough, which translation
// knows (controller/translate/passthrough.go).
func init() {
	register(Entry{Name: "ssl-passthrough", Scope: ScopeIngress, Risk: RiskMedium, Default: "false", Supported: true,
		Doc: "With --enable-ssl-passthrough, TLS connections on the HTTPS port whose SNI names one of the Ingress's hosts are " +
			"spliced to the backend of its `/` path without being terminated; every other annotation of the Ingress then applies " +
			"only to plain HTTP. Without the flag the Ingress gets a warning and its TLS is terminated by Weir (docs/passthrough.md)."})
}
