package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"reflect"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"weir.dev/weir/controller"
	"weir.dev/weir/controller/globalconfig"
	"weir.dev/weir/controller/offline"
	"weir.dev/weir/controller/translate"
	"weir.dev/weir/proxy"
	"weir.dev/weir/proxy/endpoint"
	"weir.dev/weir/proxy/listeners"
	"weir.dev/weir/proxy/proxyproto"
	weirtls "weir.dev/weir/tls"
)

// runner is the controller, online or offline.
type runner interface {
	Run(ctx context.Context) error
}

// run wires the data plane, the TLS store and the controller, serves until
// ctx ends, then drains.
func run(ctx context.Context, cfg *config, log *zap.Logger) error {
	reg, err := newRegistry(cfg)
	if err != nil {
		return err
	}
	trusted, err := cfg.trustedPrefixes()
	if err != nil {
		return err
	}
	for _, n := range cfg.notes {
		log.Info(n)
	}
	pub, ctl, ready, err := newStack(cfg, trusted, reg, log)
	if err != nil {
		return err
	}
	defer pub.close()
	srv := pub.proxy
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var shuttingDown sync.Once
	draining := make(chan struct{})

	metricsSrv := metricsServer(cfg, reg, func() bool {
		select {
		case <-draining:
			return false
		default:
			return ready()
		}
	})
	// Every port is bound before anything is served: one that cannot be
	// bound ends the process instead of leaving it half configured.
	metricsLn, err := net.Listen("tcp", metricsSrv.Addr)
	if err != nil {
		return fmt.Errorf("--metrics-port: %w", err)
	}
	servers, err := listen(ctx, cfg, pub, log)
	if err != nil {
		metricsLn.Close()
		return err
	}
	if pub.listeners, err = newGatewayListeners(ctx, cfg, pub, trusted, log); err != nil {
		metricsLn.Close()
		return err
	}
	go serveMetrics(metricsSrv, metricsLn, log)

	ctlDone := make(chan error, 1)
	go func() { ctlDone <- ctl.Run(ctx) }()
	log.Info("weir started", zap.Stringer("build", currentBuild()), zap.Int("http_port", cfg.httpPort), zap.Int("https_port", cfg.httpsPort),
		zap.Int("metrics_port", cfg.metricsPort), zap.String("manifests", cfg.manifests))

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-ctlDone:
	}
	shuttingDown.Do(func() { close(draining) })
	gatewaysDrained := pub.drainListeners(cfg)
	shutdown(cfg, srv, servers, pub.streams, metricsSrv, log)
	<-gatewaysDrained
	return runErr
}

// newStack builds the controller, then the data plane. The controller
// comes first: it reads the global ConfigMap, whose listener keys the data
// plane starts with (globalcfg.go); it only keeps pub until Run.
func newStack(cfg *config, trusted []netip.Prefix, reg *prometheus.Registry, log *zap.Logger) (*publisher, runner, func() bool, error) {
	pub := &publisher{}
	ctl, ready, start, err := newController(cfg, pub, log, reg)
	if err != nil {
		return nil, nil, nil, err
	}
	flags := *cfg
	if err := cfg.applyStart(start); err != nil {
		return nil, nil, nil, err
	}
	if err := newDataPlane(pub, cfg, trusted, reg, log); err != nil {
		return nil, nil, nil, err
	}
	pub.flags = flags
	pub.PublishGlobal(start)
	return pub, ctl, ready, nil
}

// newDataPlane builds the proxy, its endpoint registry and the certificate
// store (starting with a self-signed default certificate).
func newDataPlane(pub *publisher, cfg *config, trusted []netip.Prefix, reg prometheus.Registerer, log *zap.Logger) error {
	compat, err := cfg.compatLabels()
	if err != nil {
		return err
	}
	m := proxy.NewMetrics(reg, cfg.metricsOptions(compat))
	endpoints := endpoint.NewRegistry(endpoint.Options{Logger: log, OnPanic: m.BackendPanic, OnHealthChange: m.EndpointHealth,
		OnChecked: m.EndpointChecked, OnUnchecked: m.EndpointGone})
	popts, err := proxyOptions(cfg, trusted)
	if err != nil {
		return err
	}
	popts.MaxIdlePerEndpoint, popts.UpstreamIdleTimeout, popts.UpstreamKeepaliveRequests = cfg.upstreamIdle, cfg.upstreamIdleTimeout, cfg.upstreamRequests
	srv := proxy.New(popts, endpoints, m, log)
	selfSigned, err := weirtls.SelfSigned(time.Now())
	if err != nil {
		return fmt.Errorf("making the default certificate: %w", err)
	}
	initial, err := weirtls.NewSnapshot(selfSigned, nil)
	if err != nil {
		return err
	}
	*pub = publisher{proxy: srv, endpoints: endpoints, metrics: m, certs: weirtls.NewStore(initial), fallback: selfSigned,
		addr: cfg.addr, log: log, streams: newStreams(cfg, reg, log)}
	return nil
}

// newController returns the online controller (API server) or the offline
// one (--manifests), its readiness, and the global ConfigMap's
// configuration at start.
func newController(cfg *config, pub *publisher, log *zap.Logger, reg prometheus.Registerer) (runner, func() bool, *globalconfig.Config, error) {
	opts, err := controllerOptions(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	if opts.MetricsCompat, err = cfg.compatLabels(); err != nil {
		return nil, nil, nil, err
	}
	if cfg.manifests != "" {
		opts.Gateway = cfg.gateway.offline()
		o, err := offline.New(cfg.manifests, opts, pub, log, reg)
		if err != nil {
			return nil, nil, nil, err
		}
		return o, o.Controller().Ready, startConfig(o.Controller()), nil
	}
	rc, err := restConfig(cfg.kubeconfig)
	if err != nil {
		return nil, nil, nil, err
	}
	rc.UserAgent = "weir"
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("creating the Kubernetes client: %w", err)
	}
	if cfg.updateStatus {
		opts.Status = &controller.StatusOptions{PublishService: cfg.publishService,
			PublishStatusAddress: cfg.publishStatusAddress, ElectionID: cfg.electionID, Identity: electionIdentity()}
	}
	if opts.Gateway, err = cfg.gateway.online(rc, client); err != nil {
		return nil, nil, nil, err
	}
	c, err := controller.New(client, opts, pub, log, reg)
	if err != nil {
		return nil, nil, nil, err
	}
	return c, c.Ready, startConfig(c), nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		rc, err := rest.InClusterConfig()
		if err == nil {
			return rc, nil
		}
		if !errors.Is(err, rest.ErrNotInCluster) {
			return nil, err
		}
		return nil, errors.New("not in a cluster: give --kubeconfig, or --manifests for offline mode")
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("reading --kubeconfig: %w", err)
	}
	return rc, nil
}

// publisher hands each translation to the proxy and the certificate store,
// and the global ConfigMap's configuration to the proxy and the listeners
// (globalcfg.go).
type publisher struct {
	proxied       []*proxyproto.Listener // the HTTP and HTTPS listeners
	proxyProtocol proxyproto.Settings
	proxy         *proxy.Server
	endpoints     *endpoint.Registry
	metrics       *proxy.Metrics
	certs         *weirtls.Store
	fallback      *weirtls.Certificate
	lastCerts     certInputs         // what the certificate snapshot in service was built from
	listeners     *listeners.Manager // Gateway listeners (gateway.go)
	streams       *streams           // passthrough and TCP services (stream.go)
	front         *frontServers      // the HTTP and HTTPS servers (frontservers.go)
	global        *globalconfig.Config
	flags         config // the flags before the global ConfigMap's values
	addr          func(port int) string
	log           *zap.Logger
}

func (p *publisher) close() {
	p.streams.close()
	p.proxy.Close()
	p.endpoints.Close()
}

func (p *publisher) Publish(res *translate.Result) {
	p.streams.publish(res)
	if res.EndpointsOnly != nil {
		// Only endpoints moved: certificates are the same, and the proxy
		// rebuilds only the pools of the backends that changed.
		p.proxy.PublishEndpoints(res.Table, res.EndpointsOnly)
		return
	}
	p.publishCertificates(res)
	if res.HostsChanged != nil {
		// The Ingress fast path replaced some hosts' routes: the proxy
		// builds only their metric series and the new backends' pools.
		p.proxy.PublishHosts(res.Table)
		return
	}
	p.proxy.Publish(res.Table)
}

// publishCertificates swaps in a certificate snapshot of res. The Ingress
// fast path hands on the previous result's certificate and client
// certificate maps when no TLS changed (translate.RefreshIngresses): then
// the snapshot in service is kept, at no cost however many certificates.
func (p *publisher) publishCertificates(res *translate.Result) {
	def := res.DefaultCertificate
	if def == nil {
		def = p.fallback
	}
	if res.HostsChanged != nil && p.lastCerts.same(def, res) {
		return
	}
	snap, err := weirtls.NewSnapshot(def, res.Certificates)
	if err == nil {
		snap, err = snap.WithClientAuth(res.ClientCertHosts)
	}
	if err != nil {
		p.lastCerts = certInputs{}
		p.log.Error("certificate snapshot; keeping the previous certificates", zap.Error(err))
		return
	}
	p.certs.Swap(snap)
	p.lastCerts = certInputs{def: def, certs: res.Certificates, client: res.ClientCertHosts, set: true}
}

// certInputs are what the snapshot in service was built from: the default
// certificate and the two maps (a result never changes its maps, so the
// same map is the same content).
type certInputs struct {
	def    *weirtls.Certificate
	certs  map[string]*weirtls.Certificate
	client map[string]*x509.CertPool
	set    bool
}

func (c certInputs) same(def *weirtls.Certificate, res *translate.Result) bool {
	return c.set && c.def == def && sameMap(c.certs, res.Certificates) && sameMap(c.client, res.ClientCertHosts)
}

// sameMap reports whether a and b are the same map (not equal contents).
func sameMap[K comparable, V any](a, b map[K]V) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// listen opens the HTTP and HTTPS listeners (a port of 0 disables one) and
// serves h on them.
func listen(ctx context.Context, cfg *config, pub *publisher, log *zap.Logger) ([]*proxy.Reloadable, error) {
	var plain, secure net.Listener
	var err error
	if cfg.httpPort > 0 {
		if plain, err = listenTCP(cfg.addr(cfg.httpPort)); err != nil {
			return nil, fmt.Errorf("--http-port: %w", err)
		}
	}
	if cfg.httpsPort > 0 {
		if secure, err = listenTCP(cfg.addr(cfg.httpsPort)); err != nil {
			if plain != nil {
				plain.Close()
			}
			return nil, fmt.Errorf("--https-port: %w", err)
		}
	}
	return startServers(ctx, &pub.flags, cfg, pub, log, plain, secure)
}

func serve(srv *proxy.HTTPServer, f func() error, log *zap.Logger) {
	if err := f(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("listener failed", zap.String("addr", srv.Addr), zap.Error(err))
	}
}

func metricsServer(cfg *config, reg *prometheus.Registry, ready func() bool) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	if cfg.profiling {
		mux.HandleFunc("/debug/pprof/", loopbackOnly(pprof.Index))
		mux.HandleFunc("/debug/pprof/profile", loopbackOnly(pprof.Profile))
		mux.HandleFunc("/debug/pprof/trace", loopbackOnly(pprof.Trace))
	}
	return &http.Server{Addr: cfg.addr(cfg.metricsPort), Handler: mux, ReadHeaderTimeout: 10 * time.Second}
}

// loopbackOnly serves h to clients on the Pod's own loopback (kubectl
// port-forward arrives there) and refuses the rest with 403: a CPU profile
// or a trace holds the process for as long as it is asked to, and the
// metrics port is open to the cluster network (ingress-nginx serves its
// profiles on 127.0.0.1 only).
func loopbackOnly(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		ip, perr := netip.ParseAddr(host)
		if err != nil || perr != nil || !ip.Unmap().IsLoopback() {
			http.Error(w, "profiles are served to loopback clients only (kubectl port-forward)", http.StatusForbidden)
			return
		}
		h(w, r)
	}
}

func serveMetrics(srv *http.Server, ln net.Listener, log *zap.Logger) {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("metrics listener failed", zap.String("addr", srv.Addr), zap.Error(err))
	}
}

// shutdown drains: /readyz already fails; wait --shutdown-delay so load
// balancers stop sending, then stop accepting (HTTP, HTTPS, and the
// streams: passthrough, TCP and UDP services), give in-flight requests and
// open connections --drain-period, and close what is left.
func shutdown(cfg *config, p *proxy.Server, servers []*proxy.Reloadable, streams *streams, metrics *http.Server, log *zap.Logger) {
	log.Info("shutting down: not ready", zap.Duration("delay", cfg.shutdownDelay), zap.Duration("drain_period", cfg.drainPeriod))
	p.Drain()
	time.Sleep(cfg.shutdownDelay)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.drainPeriod)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Shutdown(ctx); err != nil {
				log.Warn("drain period ended with requests still running", zap.String("addr", s.Addr()))
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		streams.shutdown(ctx)
	}()
	wg.Wait()
	metrics.Close()
	log.Info("stopped")
}
