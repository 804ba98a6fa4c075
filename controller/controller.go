// Package controller watches the Kubernetes objects Weir serves and keeps
// the proxy's routing table in step with them. Informer events of every
// kind enqueue one key, so a burst of events gives one rebuild; each rebuild
// translates the whole cached state (controller/translate) and publishes the
// result. Problems become Events on their objects, log lines and metrics;
// a failed build keeps the last good table in service.
package controller

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"weir.dev/weir/controller/gatewayservice"
	"weir.dev/weir/controller/gatewaystatus"
	"weir.dev/weir/controller/status"
	"weir.dev/weir/controller/translate"
)

// Publisher receives every successful translation.
type Publisher interface {
	Publish(res *translate.Result)
}

// StatusOptions configure Ingress status writing (see controller/status).
type StatusOptions = status.Options

// Options configure a Controller.
type Options struct {
	Translate translate.Options
	// WatchNamespace limits the informers to one namespace ("" watches all).
	WatchNamespace string
	// HoldOff is the quiet time a rebuild waits for after the last event
	// of a burst (default 100ms), so a burst of events gives one rebuild.
	// An event after a quiet HoldOff is built at once.
	HoldOff time.Duration
	// MaxHoldOff caps the wait from the first event of a burst (default
	// 500ms), so constant churn still publishes at least that often.
	MaxHoldOff time.Duration
	// Status, when set, writes Ingress status (leader only).
	Status *StatusOptions
	// Events turns Kubernetes Events on (off in offline mode, where nobody
	// would read them).
	Events bool
	// Gateway, when set, turns the Gateway API side on (gateway.go).
	Gateway *GatewayOptions
	// MetricsCompat, when not nil, also exports ingress-nginx's controller
	// metrics with these constant labels (metrics_compat.go).
	MetricsCompat prometheus.Labels
	// ConfigMap is namespace/name of the global ConfigMap (--configmap;
	// configmap.go), "" for none.
	ConfigMap string
	// TCPServices and UDPServices are namespace/name of ingress-nginx's TCP
	// and UDP services ConfigMaps (--tcp-services-configmap,
	// --udp-services-configmap; tcpservices.go), "" for none.
	TCPServices, UDPServices string
	// AnnotationsPrefix replaces nginx.ingress.kubernetes.io as the prefix
	// of the annotations read (--annotations-prefix; "" keeps it).
	AnnotationsPrefix string
	// NamespaceSelector, when set, limits the Ingresses served to
	// namespaces whose labels match (--watch-namespace-selector).
	NamespaceSelector labels.Selector
}

// Controller turns watched objects into published routing tables.
type Controller struct {
	opts     Options
	client   kubernetes.Interface
	pub      Publisher
	log      *zap.Logger
	metrics  *metrics
	factory  informers.SharedInformerFactory
	secrets  informers.SharedInformerFactory // TLS Secrets only
	auth     *authSecrets                    // Secrets named by auth-secret, any type
	listers  listers
	queue    workqueue.TypedDelayingInterface[string]
	events   *problemEvents // nil: Events off
	logged   *eventDeduper  // problems already logged
	status   *status.Writer
	gw       *gatewaySide            // nil: Gateway API off
	global   *globalState            // nil: no --configmap (configmap.go)
	tcp      *tcpServices            // nil: no TCP or UDP services ConfigMap (tcpservices.go)
	services *gatewayservice.Manager // nil: listeners bind their own ports
	gwStatus *gatewaystatus.Writer
	sockets  sync.Mutex // serialises publishListeners
	gen      uint64
	ready    atomic.Bool
	lastMu   sync.Mutex
	last     *translate.Result
	synced   []cache.InformerSynced

	burstMu    sync.Mutex
	burstStart time.Time // first event since the last rebuild began (zero: none)
	lastEvent  time.Time
	lastBuild  time.Time       // when the last rebuild was let through (zero: never)
	full       bool            // something other than EndpointSlices changed
	dirty      map[string]bool // Services whose EndpointSlices changed
}

const tableKey = "table"

// New builds a Controller on client. reg may be nil.
func New(client kubernetes.Interface, opts Options, pub Publisher, log *zap.Logger, reg prometheus.Registerer) (*Controller, error) {
	if opts.HoldOff <= 0 {
		opts.HoldOff = 100 * time.Millisecond
	}
	if opts.MaxHoldOff < opts.HoldOff {
		opts.MaxHoldOff = max(500*time.Millisecond, opts.HoldOff)
	}
	if log == nil {
		log = zap.NewNop()
	}
	c := &Controller{
		opts:    opts,
		client:  client,
		pub:     pub,
		log:     log,
		metrics: newMetrics(reg, opts.MetricsCompat),
		queue:   workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[string]{Name: "weir"}),
		dirty:   make(map[string]bool),
		full:    true,
	}
	c.factory = informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithNamespace(opts.WatchNamespace), informers.WithTransform(ingressTransform(opts.AnnotationsPrefix)))
	// This factory lists only kubernetes.io/tls Secrets (the API server
	// filters the others out); Secrets of other types that Ingresses name
	// come from c.auth (controller/authsecrets.go), which keeps the data of
	// those alone.
	c.secrets = informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithNamespace(opts.WatchNamespace), informers.WithTransform(stripForCache),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "type=" + string(corev1.SecretTypeTLS) }))
	c.auth = newAuthSecrets(client, opts.WatchNamespace, log, c.retryLater)
	if opts.ConfigMap != "" {
		var err error
		if c.global, err = newGlobalState(client, opts.ConfigMap, log); err != nil {
			return nil, err
		}
	}
	if err := c.setupGateway(opts); err != nil {
		return nil, err
	}
	if err := c.setupInformers(); err != nil {
		return nil, err
	}
	var err error
	if c.tcp, err = c.newTCPServices(opts.TCPServices, opts.UDPServices); err != nil {
		return nil, err
	}
	if opts.Events {
		c.events = newProblemEvents()
	}
	c.logged = newEventDeduper()
	if opts.Status != nil {
		so := *opts.Status
		so.Also = c.leaderWork
		c.status = status.New(client, so, log)
	}
	return c, nil
}

// Ready reports whether the first table built from fully synced caches has
// been published.
func (c *Controller) Ready() bool { return c.ready.Load() }

// Last returns the newest successful translation (nil before the first).
func (c *Controller) Last() *translate.Result {
	c.lastMu.Lock()
	defer c.lastMu.Unlock()
	return c.last
}

// Run watches until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	if c.events != nil {
		c.events.start(c.client)
		defer c.events.broadcast.Shutdown()
	}
	c.factory.Start(ctx.Done())
	c.secrets.Start(ctx.Done())
	c.auth.factory.Start(ctx.Done())
	defer c.factory.Shutdown()
	defer c.secrets.Shutdown()
	defer c.auth.factory.Shutdown()
	if c.global != nil {
		c.global.factory.Start(ctx.Done())
		defer c.global.factory.Shutdown()
	}
	c.tcp.start(ctx)
	synced := c.synced
	if c.gw != nil {
		// Gateway objects that are there at start are in the first table.
		synced = append(synced, c.gw.check(ctx)...)
		go c.gw.run(ctx)
	}
	if c.services != nil {
		c.services.Start(ctx)
		defer c.services.Shutdown()
		synced = append(synced, c.services.Synced)
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return fmt.Errorf("waiting for informer caches: %w", ctx.Err())
	}
	c.log.Info("caches synced; building the first table")
	// The first build runs on the fully processed initial lists.
	c.rebuild()
	if c.status != nil {
		go func() {
			defer c.recoverLog("status writer")
			c.status.Run(ctx, statusSource{c})
		}()
	}
	go func() {
		<-ctx.Done()
		c.queue.ShutDown()
	}()
	for c.processNext() {
	}
	return nil
}

func (c *Controller) processNext() bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	if wait := c.holdRemaining(time.Now()); wait > 0 {
		c.queue.AddAfter(key, wait)
		return true
	}
	func() {
		defer c.recoverLog("rebuild (the last table stays in service)")
		c.rebuild()
	}()
	return true
}

// recoverLog logs a panic instead of crashing the process; deferred at the
// top of the controller's goroutines and of each rebuild.
func (c *Controller) recoverLog(what string) {
	if r := recover(); r != nil {
		c.log.Error("panic recovered", zap.String("in", what), zap.Any("panic", r))
	}
}

// enqueue notes an event and schedules a rebuild. Every event kind uses the
// one key, so the queue holds at most one pending rebuild. The first event
// after a quiet HoldOff is built at once; only events that follow a rebuild
// closer than that form a burst, which holdRemaining stretches until events
// pause for HoldOff, but never beyond MaxHoldOff after the burst's first
// event.
func (c *Controller) enqueue() {
	c.burstMu.Lock()
	c.full = true
	c.burstMu.Unlock()
	c.schedule()
}

func (c *Controller) schedule() {
	if c.noteEvent(time.Now()) {
		c.queue.Add(tableKey)
		return
	}
	c.queue.AddAfter(tableKey, c.opts.HoldOff)
}

// noteEvent records an event at now and reports whether it may be built at
// once.
func (c *Controller) noteEvent(now time.Time) bool {
	c.burstMu.Lock()
	defer c.burstMu.Unlock()
	if c.burstStart.IsZero() {
		c.burstStart = now
	}
	c.lastEvent = now
	return c.leading()
}

// leading reports whether the pending burst began after a quiet HoldOff
// since the last rebuild: a lone change then reaches traffic without
// waiting. Called with burstMu held.
func (c *Controller) leading() bool {
	return !c.burstStart.IsZero() && c.burstStart.Sub(c.lastBuild) >= c.opts.HoldOff
}

// holdRemaining is how much longer the pending rebuild should wait; zero
// means build now, and starts a new burst.
func (c *Controller) holdRemaining(now time.Time) time.Duration {
	c.burstMu.Lock()
	defer c.burstMu.Unlock()
	if c.burstStart.IsZero() {
		return 0
	}
	if c.leading() {
		c.burstStart, c.lastBuild = time.Time{}, now
		return 0
	}
	deadline := c.lastEvent.Add(c.opts.HoldOff)
	if limit := c.burstStart.Add(c.opts.MaxHoldOff); limit.Before(deadline) {
		deadline = limit
	}
	if wait := deadline.Sub(now); wait > 0 {
		return wait
	}
	c.burstStart, c.lastBuild = time.Time{}, now
	return 0
}

// rebuild translates the cached state and publishes it. When only
// EndpointSlices changed since the last published table it takes the
// endpoint-only fast path (translate.Refresh), which gives the same table.
func (c *Controller) rebuild() {
	start := time.Now()
	full, dirty := c.takeChanges()
	if !full && len(dirty) == 0 {
		return // the events were already covered by an earlier rebuild
	}
	res, fast := c.translate(full, dirty)
	if res == nil {
		return
	}
	c.metrics.buildSeconds.Observe(time.Since(start).Seconds())
	c.metrics.builds.WithLabelValues(buildPath(fast)).Inc()
	c.report(res.Problems)
	if res.Table == nil {
		c.markFull()
		c.metrics.failed(time.Now())
		c.log.Error("table build failed; keeping the last good table", zap.Uint64("generation", c.gen))
		return
	}
	c.pub.Publish(res)
	c.lastMu.Lock()
	c.last = res
	c.lastMu.Unlock()
	c.publishListeners()
	// Ready only once a table built from the synced caches is in service
	// (rebuild runs only after the caches synced).
	c.ready.Store(true)
	c.metrics.published(res, c.gen, time.Now(), c.opts.Translate.DefaultSSLCertificate)
	c.log.Debug("table published", zap.Uint64("generation", c.gen), zap.Int("routes", res.Table.Len()),
		zap.Int("problems", len(res.Problems)), zap.Bool("endpointsOnly", fast), zap.Duration("took", time.Since(start)))
	if c.status != nil {
		c.status.Poke()
	}
}

func buildPath(endpointsOnly bool) string {
	if endpointsOnly {
		return "endpoints"
	}
	return "full"
}

// takeChanges returns and resets what changed since the last rebuild.
func (c *Controller) takeChanges() (bool, map[string]bool) {
	c.burstMu.Lock()
	defer c.burstMu.Unlock()
	full, dirty := c.full, c.dirty
	c.full, c.dirty = false, make(map[string]bool)
	return full, dirty
}

// retryLater schedules a full rebuild after secretRetry (a named Secret
// could not be read).
func (c *Controller) retryLater() {
	c.markFull()
	c.queue.AddAfter(tableKey, secretRetry)
}

// markFull makes the next rebuild a full one (the last build failed, so
// the published table no longer matches the caches but for endpoints).
func (c *Controller) markFull() {
	c.burstMu.Lock()
	c.full = true
	c.burstMu.Unlock()
}

// translate builds the next result: the fast path when only the
// EndpointSlices of the dirty Services changed and it applies, else a full
// translation. nil means there is nothing to publish: nothing could be
// listed, or no endpoint that a route uses changed.
func (c *Controller) translate(full bool, dirty map[string]bool) (*translate.Result, bool) {
	if last := c.Last(); !full && last != nil {
		if in, err := c.listers.endpointInputs(dirty); err == nil {
			res, ok := translate.Refresh(last, in, dirty, c.gen+1)
			if ok && res == last {
				return nil, true // nothing any route uses changed
			}
			if ok {
				c.gen++
				return res, true
			}
		}
	}
	opts, global := c.translateOptions() // configmap.go
	in, err := c.listers.inputs(opts)
	if err == nil && c.gw != nil {
		err = c.gw.addInputs(in)
	}
	if err == nil {
		c.tcp.addInputs(in)
	}
	if err != nil {
		c.markFull()
		c.log.Error("listing cached objects", zap.Error(err))
		return nil, false
	}
	c.gen++
	res := translate.Translate(in, c.gen)
	res.Problems = append(res.Problems, global...)
	return res, false
}

// listers reads the informer caches.
type listers struct {
	factory, secrets informers.SharedInformerFactory
	auth             *authSecrets
	nsSelector       labels.Selector // nil: every namespace
}

func (l *listers) inputs(opts translate.Options) (*translate.Inputs, error) {
	in := &translate.Inputs{Options: opts}
	f := l.factory
	ings, err := f.Networking().V1().Ingresses().Lister().List(labels.Everything())
	if err != nil {
		return nil, err
	}
	if in.Ingresses, err = l.selected(ings); err != nil { // informers.go
		return nil, err
	}
	if in.IngressClasses, err = f.Networking().V1().IngressClasses().Lister().List(labels.Everything()); err != nil {
		return nil, err
	}
	if in.Services, err = f.Core().V1().Services().Lister().List(labels.Everything()); err != nil {
		return nil, err
	}
	if in.EndpointSlices, err = f.Discovery().V1().EndpointSlices().Lister().List(labels.Everything()); err != nil {
		return nil, err
	}
	if in.Secrets, err = l.secrets.Core().V1().Secrets().Lister().List(labels.Everything()); err != nil {
		return nil, err
	}
	// Listed after the TLS Secrets: a named Secret's fetched copy wins.
	named, headers := l.auth.resolve(in.Ingresses, in.IngressClasses, opts) // authsecrets.go
	in.Secrets, in.HeaderConfigMaps = append(in.Secrets, named...), headers
	return in, nil
}

// statusSource shows the status writer the cached Ingresses.
type statusSource struct{ c *Controller }

func (s statusSource) Ingresses() []*networkingv1.Ingress {
	ings, err := s.c.factory.Networking().V1().Ingresses().Lister().List(labels.Everything())
	if err != nil {
		return nil
	}
	ings, _ = s.c.listers.selected(ings) // --watch-namespace-selector
	return ings
}

func (s statusSource) IsWeirs(ing *networkingv1.Ingress) bool {
	classes, err := s.c.factory.Networking().V1().IngressClasses().Lister().List(labels.Everything())
	if err != nil {
		return false
	}
	return translate.IsWeirs(ing, classes, s.c.opts.Translate)
}

// endpointInputs lists the named Services ("namespace/name") and their
// EndpointSlices, for the endpoint-only fast path.
func (l *listers) endpointInputs(services map[string]bool) (*translate.Inputs, error) {
	in := &translate.Inputs{}
	f := l.factory
	for key := range services {
		ns, name, _ := strings.Cut(key, "/")
		svc, err := f.Core().V1().Services().Lister().Services(ns).Get(name)
		if err != nil {
			return nil, fmt.Errorf("getting service %s: %w", key, err)
		}
		in.Services = append(in.Services, svc)
		sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name})
		slices, err := f.Discovery().V1().EndpointSlices().Lister().EndpointSlices(ns).List(sel)
		if err != nil {
			return nil, fmt.Errorf("listing endpoint slices of %s: %w", key, err)
		}
		in.EndpointSlices = append(in.EndpointSlices, slices...)
	}
	return in, nil
}
