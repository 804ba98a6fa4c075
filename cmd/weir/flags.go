package main

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"weir.dev/weir/proxy"
	weirtls "weir.dev/weir/tls"
)

// config is every flag of `weir`. Names follow ingress-nginx where it has
// one; the README lists them all.
type config struct {
	kubeconfig            string
	manifests             string
	ingressClass          string
	controllerClass       string
	watchNamespace        string
	bindAddress           string
	httpPort              int
	httpsPort             int
	metricsPort           int
	publishService        string
	publishStatusAddress  string
	defaultSSLCertificate string
	defaultBackendService string
	electionID            string
	accessLog             bool
	sysmonBatch           bool
	gatherWrites          string
	gcMinHeadroomMiB      int
	logLevel              string
	trustedProxies        string
	cleartextHTTP2        bool
	shutdownDelay         time.Duration
	drainPeriod           time.Duration
	readHeaderTimeout     time.Duration
	idleTimeout           time.Duration
	maxHeaderBytes        int
	clientBodyTimeout     time.Duration
	underscoresInHeaders  bool
	profiling             bool
	http1Server           string
	version               bool
	gateway               gatewayFlags // gateway.go
	metrics               metricsFlags // metrics.go

	// ingress-nginx's flags (README, Flags).
	configMap              string
	watchWithoutClass      bool
	classByName            bool
	watchNamespaceSelector string
	updateStatus           bool
	disableSvcExternalName bool
	annotationsPrefix      string
	tcpServices            string
	enableSSLPassthrough   bool
	udpServices            string
	// notes are the ignored ingress-nginx flags given (nginxflags.go).
	notes []string

	// Set from the global ConfigMap at start (globalcfg.go).
	keepAliveOff        bool
	upstreamIdle        int
	upstreamIdleTimeout time.Duration
	upstreamRequests    int
	maxStreams          int
	tls                 weirtls.Options
}

func parseFlags(args []string) (*config, error) {
	c, fs := newFlagSet()
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return c, c.check()
}

// check refuses flag values Weir cannot honour: starting without them would
// silently drop traffic.
func (c *config) check() error {
	if _, err := labels.Parse(c.watchNamespaceSelector); err != nil {
		return fmt.Errorf("--watch-namespace-selector: %w", err)
	}
	for flag, v := range map[string]string{"configmap": c.configMap, "tcp-services-configmap": c.tcpServices, "udp-services-configmap": c.udpServices} {
		if ns, name, ok := strings.Cut(v, "/"); v != "" && (!ok || ns == "" || name == "" || strings.Contains(name, "/")) {
			return fmt.Errorf("--%s %q: want namespace/name", flag, v)
		}
	}
	return nil
}

// flagNames lists every flag (for the README check).
func flagNames() []string {
	_, fs := newFlagSet()
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

func newFlagSet() (*config, *flag.FlagSet) {
	c := &config{}
	fs := flag.NewFlagSet("weir", flag.ContinueOnError)
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "path to a kubeconfig; empty uses the in-cluster configuration")
	fs.StringVar(&c.manifests, "manifests", "", "offline mode: serve the Kubernetes YAML in this file or directory (watched for changes) instead of talking to an API server")
	fs.StringVar(&c.ingressClass, "ingress-class", "weir", "value of the legacy kubernetes.io/ingress.class annotation that Weir serves")
	fs.StringVar(&c.controllerClass, "controller-class", "weir.dev/ingress-controller", "IngressClass spec.controller value that Weir serves")
	fs.StringVar(&c.watchNamespace, "watch-namespace", "", "watch only this namespace (default: all)")
	fs.StringVar(&c.bindAddress, "bind-address", "", "address the HTTP, HTTPS and metrics listeners bind (default: all)")
	fs.IntVar(&c.httpPort, "http-port", 80, "plain-HTTP port (0 disables)")
	fs.IntVar(&c.httpsPort, "https-port", 443, "HTTPS port (0 disables)")
	fs.IntVar(&c.metricsPort, "metrics-port", 10254, "port of /healthz, /readyz and /metrics")
	fs.StringVar(&c.publishService, "publish-service", "", "namespace/name of the Service in front of Weir, whose addresses go to Ingress status")
	fs.StringVar(&c.publishStatusAddress, "publish-status-address", "", "comma-separated addresses written to Ingress status (wins over --publish-service)")
	fs.StringVar(&c.defaultSSLCertificate, "default-ssl-certificate", "", "namespace/name of the TLS Secret served when no host matches (default: a self-signed certificate made at start)")
	fs.StringVar(&c.defaultBackendService, "default-backend-service", "", "namespace/name of a Service that answers requests no rule matches (default: Weir's built-in 404)")
	fs.StringVar(&c.electionID, "election-id", "weir-leader", "name of the Lease that elects the replica writing status")
	fs.BoolVar(&c.accessLog, "access-log", true, "write one JSON log line per request")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-* headers are trusted and extended (default: none, headers are replaced)")
	fs.BoolVar(&c.cleartextHTTP2, "enable-h2c", true, "accept HTTP/2 with prior knowledge on the plain-HTTP port (gRPC without TLS)")
	fs.DurationVar(&c.shutdownDelay, "shutdown-delay", 5*time.Second, "on SIGTERM, time /readyz reports not ready before listeners stop accepting (lets load balancers drain)")
	fs.DurationVar(&c.drainPeriod, "drain-period", 30*time.Second, "on SIGTERM, time in-flight requests get to finish")
	fs.DurationVar(&c.readHeaderTimeout, "read-header-timeout", 10*time.Second, "time a client gets to send its request headers")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", 75*time.Second, "idle keep-alive connections are closed after this")
	fs.IntVar(&c.maxHeaderBytes, "max-header-bytes", 32<<10, "request headers larger than this get 431")
	fs.DurationVar(&c.clientBodyTimeout, "client-body-timeout", 60*time.Second, "a client that sends nothing of its request body for this long gets 408 (nginx's client_body_timeout)")
	fs.BoolVar(&c.underscoresInHeaders, "enable-underscores-in-headers", false, "forward request headers whose names contain \"_\" (default: dropped, as ingress-nginx does)")
	fs.BoolVar(&c.profiling, "profiling", false, "serve Go's /debug/pprof on the metrics port, to loopback clients only (kubectl port-forward)")
	fs.BoolVar(&c.sysmonBatch, "sysmon-batch", true, "Linux: run the Go runtime's monitor thread under SCHED_BATCH, so that its frequent wake-ups do not preempt the threads serving requests (docs/performance.md)")
	c.gatherWrites = gatherAuto
	fs.Func("gather-writes", "\"auto\", \"on\" or \"off\": the first write of an answer, or of a request to an endpoint, first lets the other ready connections be read, so a batch's writes wake a receiver once; auto: on while GOMAXPROCS is 1 (docs/performance.md)", func(v string) error {
		m, err := parseGather(v)
		c.gatherWrites = m
		return err
	})
	c.gcMinHeadroomMiB = 96
	fs.Func("gc-min-headroom-mib", "the Go heap may grow by at least this many MiB between two garbage collections: GOGC (400) is raised for a small live heap, so that collections, which delay the requests that arrive meanwhile, come less often; 0: GOGC 400 as it is; ignored when GOGC is set; the soft memory limit still applies (docs/performance.md) (default 96)", func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errors.New("want a whole number of MiB, 0 or more")
		}
		c.gcMinHeadroomMiB = n
		return nil
	})
	c.http1Server = proxy.DefaultHTTP1
	fs.Func("http1-server", "HTTP/1.x server: \"weir\" (Weir's own strict loop) or \"net/http\" (default "+proxy.DefaultHTTP1+"); HTTP/2 is always net/http's", func(v string) error {
		if v != proxy.HTTP1Weir && v != proxy.HTTP1NetHTTP {
			return fmt.Errorf("want %q or %q", proxy.HTTP1Weir, proxy.HTTP1NetHTTP)
		}
		c.http1Server = v
		return nil
	})
	fs.BoolVar(&c.version, "version", false, "print the version, commit and Go version, and exit")
	c.gateway.register(fs)
	fs.StringVar(&c.configMap, "configmap", "", "namespace/name of ingress-nginx's global ConfigMap, watched and applied live (docs/configmap.md)")
	fs.BoolVar(&c.watchWithoutClass, "watch-ingress-without-class", false, "also serve Ingresses that name no class at all")
	fs.BoolVar(&c.classByName, "ingress-class-by-name", false, "also serve Ingresses whose ingressClassName equals --ingress-class, whatever that IngressClass's controller")
	fs.StringVar(&c.watchNamespaceSelector, "watch-namespace-selector", "", "serve only Ingresses in namespaces whose labels match this selector (default: all)")
	fs.BoolVar(&c.updateStatus, "update-status", true, "write the load balancer addresses to Ingress status")
	fs.BoolVar(&c.disableSvcExternalName, "disable-svc-external-name", false, "refuse ExternalName Services as backends (their paths answer 503)")
	fs.StringVar(&c.annotationsPrefix, "annotations-prefix", "nginx.ingress.kubernetes.io", "prefix of the ingress-nginx annotations Weir reads")
	fs.StringVar(&c.tcpServices, "tcp-services-configmap", "", "namespace/name of ingress-nginx's TCP services ConfigMap (port: namespace/service:port[:PROXY][:PROXY]), watched live (docs/passthrough.md)")
	fs.BoolVar(&c.enableSSLPassthrough, "enable-ssl-passthrough", false, "honour the ssl-passthrough annotation: TLS connections on the HTTPS port whose SNI names such a host are spliced to its backend without termination (docs/passthrough.md)")
	fs.StringVar(&c.udpServices, "udp-services-configmap", "", "namespace/name of ingress-nginx's UDP services ConfigMap (port: namespace/service:port), watched live (docs/passthrough.md)")
	registerIgnored(fs, &c.notes)
	c.metrics.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: weir [flags]\n       weir translate -f PATH...\n       weir migrate [--kubeconfig PATH | -f PATH]\n       weir version\n\nflags:\n")
		fs.PrintDefaults()
	}
	return c, fs
}

func (c *config) trustedPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(c.trustedProxies, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("--trusted-proxies: %w", err)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies: %w", err)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func (c *config) addr(port int) string {
	return fmt.Sprintf("%s:%d", c.bindAddress, port)
}
