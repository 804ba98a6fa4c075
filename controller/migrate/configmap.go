package migrate

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"weir.dev/weir/annotations"
)

// cmKey is Weir's answer for one key of ingress-nginx's ConfigMap. Weir
// reads no ConfigMap: a key is honoured only when its value is what Weir
// does anyway.
type cmKey struct {
	// same are the values (lower case, single spaces) Weir's behaviour
	// matches.
	same []string
	// status and detail answer every other value.
	status Status
	detail string
}

const (
	perIngress = "; set the annotation of the same name on each Ingress instead"
	noWorkers  = "Weir is one Go process: there are no nginx workers to tune"
	noBuffers  = "Weir streams bodies and sizes its own buffers: nothing to tune"
	noConfig   = "ignored: Weir renders no configuration, so none can be injected"
	noTrust    = "X-Forwarded-* and X-Real-IP are taken only from addresses in Weir's --trusted-proxies flag; without it they are replaced"
)

// configMapKeys are ingress-nginx's ConfigMap keys that clusters set most,
// with Weir's behaviour. Keys not listed are not honoured.
var configMapKeys = map[string]cmKey{
	"proxy-connect-timeout":       {[]string{"5"}, NotHonoured, "Weir connects with a 5 s timeout" + perIngress},
	"proxy-read-timeout":          {[]string{"60"}, NotHonoured, "Weir waits 60 s between reads" + perIngress},
	"proxy-send-timeout":          {[]string{"60"}, NotHonoured, "Weir allows 60 s between writes" + perIngress},
	"proxy-body-size":             {[]string{"1m"}, NotHonoured, "bodies over 1 MiB get 413" + perIngress},
	"proxy-next-upstream":         {[]string{"error timeout"}, NotHonoured, "Weir retries on error and timeout" + perIngress},
	"proxy-next-upstream-tries":   {[]string{"3"}, NotHonoured, "Weir tries 3 times" + perIngress},
	"proxy-next-upstream-timeout": {[]string{"0"}, NotHonoured, "Weir does not bound retries in time" + perIngress},
	"ssl-redirect":                {[]string{"true"}, NotHonoured, "Weir redirects plain HTTP to HTTPS on TLS hosts" + perIngress},
	"force-ssl-redirect":          {[]string{"false"}, NotHonoured, "Weir redirects only TLS hosts" + perIngress},
	"load-balance":                {[]string{"least_conn"}, NotHonoured, "Weir balances least-connections" + perIngress},
	"use-http2":                   {[]string{"true"}, NotHonoured, "Weir offers HTTP/2 by ALPN on every TLS connection"},
	"hsts":                        {[]string{"true"}, NotHonoured, "Weir sends Strict-Transport-Security on TLS hosts"},
	"hsts-max-age":                {[]string{"31536000"}, NotHonoured, "Weir sends max-age=31536000"},
	"hsts-include-subdomains":     {[]string{"true"}, NotHonoured, "Weir sends includeSubDomains"},
	"hsts-preload":                {[]string{"false"}, NotHonoured, "Weir does not send preload"},
	"http-redirect-code":          {[]string{"308"}, NotHonoured, "Weir redirects to HTTPS with 308"},
	"ssl-protocols":               {[]string{"tlsv1.2 tlsv1.3", "tlsv1.3 tlsv1.2"}, NotHonoured, "Weir accepts TLS 1.2 and 1.3"},
	"ssl-session-tickets":         {[]string{"true"}, NotHonoured, "Weir issues session tickets (keys rotated hourly)"},
	"allow-snippet-annotations":   {[]string{"false"}, NotHonoured, "snippet annotations are never read: each is reported and ignored"},
	"enable-underscores-in-headers": {[]string{"false"}, NotHonoured,
		"header names with _ are dropped before the backend unless Weir runs with --enable-underscores-in-headers"},
	"client-body-timeout":        {[]string{"60"}, NotHonoured, "a client idle for 60 s in its request body gets 408; Weir's --client-body-timeout flag sets it"},
	"use-forwarded-headers":      {[]string{"false"}, NotHonoured, noTrust},
	"compute-full-forwarded-for": {nil, NotHonoured, noTrust},
	"enable-real-ip":             {[]string{"false"}, NotHonoured, noTrust},
	"forwarded-for-header":       {[]string{"x-forwarded-for"}, NotHonoured, noTrust},
	"proxy-real-ip-cidr":         {nil, NotHonoured, noTrust},
	"use-proxy-protocol":         {[]string{"false"}, NotHonoured, "Weir does not read the PROXY protocol: connections from a load balancer that sends it fail"},
	"generate-request-id":        {[]string{"true"}, NotHonoured, "Weir always passes on or generates X-Request-ID"},
	"no-tls-redirect-locations":  {[]string{"/.well-known/acme-challenge"}, NotHonoured, "only /.well-known/acme-challenge is exempt from the HTTPS redirect"},
	"keep-alive":                 {[]string{"75"}, NotHonoured, "idle client connections close after 75 s; Weir's --idle-timeout flag sets it"},
	"client-header-timeout":      {[]string{"10"}, NotHonoured, "clients get 10 s for their headers; Weir's --read-header-timeout flag sets it"},
	"large-client-header-buffers": {nil, NotHonoured,
		"request headers over 32 KiB get 431; Weir's --max-header-bytes flag sets it"},
	"worker-shutdown-timeout":          {nil, NotHonoured, "in-flight requests get 30 s on shutdown; Weir's --drain-period flag sets it"},
	"bind-address":                     {nil, NotHonoured, "Weir's --bind-address flag sets it"},
	"error-log-level":                  {nil, NotHonoured, "Weir's --log-level flag sets it"},
	"disable-access-log":               {[]string{"false"}, NotHonoured, "Weir's --access-log=false turns the access log off"},
	"log-format-upstream":              {nil, NotHonoured, "Weir writes one JSON line per request with fixed fields (README, Logs): parsers of the old format need changing"},
	"log-format-escape-json":           {nil, NotHonoured, "Weir's access log is always JSON"},
	"skip-access-log-urls":             {nil, NotHonoured, "every request is logged"},
	"enable-opentelemetry":             {[]string{"false"}, NotHonoured, "no tracing spans are exported (X-Request-ID is passed on)"},
	"use-gzip":                         {[]string{"false"}, NotHonoured, "responses are not compressed by Weir"},
	"enable-brotli":                    {[]string{"false"}, NotHonoured, "responses are not compressed by Weir"},
	"whitelist-source-range":           {nil, NotHonoured, "the paths are open to every client: set allowlist-source-range on each Ingress before moving it"},
	"denylist-source-range":            {nil, NotHonoured, "the listed clients are not refused: set denylist-source-range on each Ingress before moving it"},
	"block-cidrs":                      {nil, NotHonoured, "the listed clients are not blocked"},
	"block-user-agents":                {nil, NotHonoured, "the listed user agents are not blocked"},
	"block-referers":                   {nil, NotHonoured, "the listed referers are not blocked"},
	"global-auth-url":                  {nil, NotHonoured, "the paths are served WITHOUT the global external authentication: do not move them yet"},
	"global-rate-limit-memcached-host": {nil, NotHonoured, "requests are not rate limited"},
	"custom-http-errors":               {nil, NotHonoured, "backend error responses reach clients unchanged"},
	"add-headers":                      {nil, NotHonoured, "the response headers are not added"},
	"proxy-set-headers":                {nil, NotHonoured, "the request headers are not added"},
	"hide-headers":                     {nil, NotHonoured, "the headers reach clients"},
	"enable-modsecurity":               {[]string{"false"}, NotHonoured, "requests are not inspected by a web application firewall"},
	"enable-owasp-modsecurity-crs":     {[]string{"false"}, NotHonoured, "requests are not inspected by a web application firewall"},
	"ssl-ciphers":                      {nil, NotHonoured, "Go's default cipher suites are used"},
	"ssl-ecdh-curve":                   {nil, NotHonoured, "Go's default curves are used"},
	"ssl-dh-param":                     {nil, NoOp, "Go offers no finite-field Diffie-Hellman suites: nothing to configure"},
	"http-snippet":                     {nil, NotHonoured, noConfig},
	"server-snippet":                   {nil, NotHonoured, noConfig},
	"location-snippet":                 {nil, NotHonoured, noConfig},
	"main-snippet":                     {nil, NotHonoured, noConfig},
	"stream-snippet":                   {nil, NotHonoured, noConfig},
	"annotation-value-word-blocklist":  {nil, NoOp, "Weir renders no configuration, so no annotation value can inject any"},
	"worker-processes":                 {nil, NoOp, noWorkers},
	"max-worker-connections":           {nil, NoOp, noWorkers},
	"max-worker-open-files":            {nil, NoOp, noWorkers},
	"worker-cpu-affinity":              {nil, NoOp, noWorkers},
	"reuse-port":                       {nil, NoOp, noWorkers},
	"proxy-buffer-size":                {nil, NoOp, noBuffers},
	"proxy-buffers-number":             {nil, NoOp, noBuffers},
	"proxy-buffering":                  {nil, NoOp, noBuffers},
	"client-body-buffer-size":          {nil, NoOp, noBuffers},
	"server-name-hash-bucket-size":     {nil, NoOp, "nginx table sizing: Weir's tables need none"},
	"server-name-hash-max-size":        {nil, NoOp, "nginx table sizing: Weir's tables need none"},
	"variables-hash-bucket-size":       {nil, NoOp, "nginx table sizing: Weir's tables need none"},
	"map-hash-bucket-size":             {nil, NoOp, "nginx table sizing: Weir's tables need none"},
	"upstream-keepalive-connections":   {nil, NoOp, "Weir keeps its own pool of idle connections per endpoint"},
	"upstream-keepalive-timeout":       {nil, NoOp, "Weir keeps its own pool of idle connections per endpoint"},
	"upstream-keepalive-requests":      {nil, NoOp, "Weir keeps its own pool of idle connections per endpoint"},
	"ssl-session-cache":                {nil, NoOp, "Go resumes TLS sessions with tickets; there is no session cache to size"},
	"ssl-session-cache-size":           {nil, NoOp, "Go resumes TLS sessions with tickets; there is no session cache to size"},
	"ssl-session-timeout":              {nil, NoOp, "Go resumes TLS sessions with tickets; there is no session cache to size"},
}

// ConfigMapKeys lists the ingress-nginx ConfigMap keys Weir has an answer
// for, sorted.
func ConfigMapKeys() []string {
	out := make([]string, 0, len(configMapKeys))
	for k := range configMapKeys {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// configMapFindings answers each key of ingress-nginx's ConfigMap.
func configMapFindings(data map[string]string, nginx []*networkingv1.Ingress) []Finding {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Finding, 0, len(keys))
	for _, k := range keys {
		f := configMapFinding(k, data[k])
		if f.Status == NotHonoured && strings.HasSuffix(f.Detail, perIngress) {
			f = narrowToIngresses(f, nginx)
		}
		out = append(out, f)
	}
	return out
}

func configMapFinding(key, value string) Finding {
	known, ok := configMapKeys[key]
	if !ok {
		return Finding{Key: key, Status: NotHonoured, Detail: "Weir reads no ConfigMap and has no equivalent: the value is ignored"}
	}
	v := strings.ToLower(strings.Join(strings.Fields(value), " "))
	for _, s := range known.same {
		if v == s {
			return Finding{Key: key, Status: Honoured, Detail: "Weir's default is the same"}
		}
	}
	return Finding{Key: key, Status: known.status, Detail: known.detail}
}

// narrowToIngresses answers a key that has an annotation of the same name
// for the Ingresses that do not set it: only they change on Weir.
func narrowToIngresses(f Finding, nginx []*networkingv1.Ingress) Finding {
	var without []string
	for _, ing := range nginx {
		if _, set := ing.Annotations[annotations.Prefix+f.Key]; !set && !isCanary(ing) {
			without = append(without, ref(ing))
		}
	}
	if len(without) == 0 {
		return Finding{Key: f.Key, Status: NoOp, Detail: "every Ingress sets the annotation of the same name, which Weir honours"}
	}
	list := strings.Join(without, ", ")
	if len(without) > 3 {
		list = fmt.Sprintf("%s and %d more", strings.Join(without[:3], ", "), len(without)-3)
	}
	f.Detail = strings.TrimSuffix(f.Detail, perIngress) +
		fmt.Sprintf("; set the annotation of the same name on the %d Ingress(es) without it: %s", len(without), list)
	return f
}

// configMapNames are the names ingress-nginx's ConfigMap has in its Helm
// chart (with the release name before it) and its static manifests.
var configMapNames = []string{"ingress-nginx-controller", "nginx-configuration"}

// selectConfigMaps picks ingress-nginx's ConfigMap: the one named by
// namespace/name, else those with its usual names or its chart's labels.
func selectConfigMaps(cms []*corev1.ConfigMap, named string) []*corev1.ConfigMap {
	var out []*corev1.ConfigMap
	for _, cm := range cms {
		if isNginxConfigMap(cm, named) {
			out = append(out, cm)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Namespace+"/"+out[i].Name < out[j].Namespace+"/"+out[j].Name
	})
	return out
}

func isNginxConfigMap(cm *corev1.ConfigMap, named string) bool {
	if named != "" {
		return cm.Namespace+"/"+cm.Name == named
	}
	l := cm.Labels
	// The chart labels its tcp/udp-services ConfigMaps the same way.
	if l["app.kubernetes.io/name"] == "ingress-nginx" && l["app.kubernetes.io/component"] == "controller" &&
		strings.HasSuffix(cm.Name, "-controller") {
		return true
	}
	for _, n := range configMapNames {
		if cm.Name == n || strings.HasSuffix(cm.Name, "-"+n) {
			return true
		}
	}
	return false
}
