// Package controller watches the Kubernetes objects Weir serves and keeps
// the proxy's routing table in step with them. Informer events of every
// kind enqueue one key, and rebuilds are paced by their cost (holdoff.go),
// so a burst of events gives few rebuilds while a lone change is built at
// once. A rebuild translates the whole cached state (controller/translate),
// or, when only EndpointSlices or only Ingresses changed, takes a fast path
// that gives the same result, and publishes it. Problems become Events on
// their objects, log lines and metrics; a failed build keeps the last good
// table in service.
package controller

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
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
	// HoldOff is the least time between the starts of two rebuilds
	// (default 20ms): a change is built at once unless a rebuild began less
	// than that ago, and the events until then share one rebuild
	// (holdoff.go).
	HoldOff time.Duration
	// MaxHoldOff caps the spacing, which grows to twice the cost of the
	// last rebuild when that is more than HoldOff (default 500ms).
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
	lastBuild  time.Time       // when the last rebuild began (zero: never)
	lastCost   time.Duration   // how long it took
	full       bool            // something other than Ingresses and EndpointSlices changed
	dirty      map[string]bool // Services whose EndpointSlices changed
	ingDirty   map[string]bool // Ingresses ("namespace/name") that changed
	firstEvent time.Time       // first event the next rebuild covers (zero: none)
}

const tableKey = "table"

// New builds a Controller on client. reg may be nil.
func New(client kubernetes.Interface, opts Options, pub Publisher, log *zap.Logger, reg prometheus.Registerer) (*Controller, error) {
	if opts.HoldOff <= 0 {
		opts.HoldOff = defaultHoldOff
	}
	if opts.MaxHoldOff < opts.HoldOff {
		opts.MaxHoldOff = max(500*time.Millisecond, opts.HoldOff)
	}
	if log == nil {
		log = zap.NewNop()
	}
	c := &Controller{
		opts:     opts,
		client:   client,
		pub:      pub,
		log:      log,
		metrics:  newMetrics(reg, opts.MetricsCompat),
		queue:    workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[string]{Name: "weir"}),
		dirty:    make(map[string]bool),
		ingDirty: make(map[string]bool),
		full:     true,
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
	start := time.Now()
	func() {
		defer func() {
			if r := recover(); r != nil {
				// The changes this rebuild took are not lost: the next
				// one translates everything.
				c.log.Error("panic recovered", zap.String("in", "rebuild (the last table stays in service)"), zap.Any("panic", r))
				c.markFull()
				c.metrics.failed(time.Now())
			}
		}()
		c.rebuild()
	}()
	c.noteCost(time.Since(start))
	return true
}

// recoverLog logs a panic instead of crashing the process; deferred at the
// top of the controller's goroutines (a rebuild has its own, processNext).
func (c *Controller) recoverLog(what string) {
	if r := recover(); r != nil {
		c.log.Error("panic recovered", zap.String("in", what), zap.Any("panic", r))
	}
}

// rebuild translates the cached state and publishes it. When only
// EndpointSlices changed since the last published table it takes the
// endpoint-only fast path (translate.Refresh), which gives the same table.
func (c *Controller) rebuild() {
	start := time.Now()
	ch := c.takeChanges()
	if !ch.full && len(ch.dirty) == 0 && len(ch.ings) == 0 {
		return // the events were already covered by an earlier rebuild
	}
	res, path := c.translate(ch)
	if res == nil {
		return
	}
	translated := time.Since(start)
	c.metrics.buildSeconds.Observe(time.Since(start).Seconds())
	c.metrics.builds.WithLabelValues(path).Inc()
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
	if ce := c.log.Check(zap.DebugLevel, "table published"); ce != nil {
		ce.Write(zap.Uint64("generation", c.gen), zap.Int("routes", res.Table.Len()), zap.Int("problems", len(res.Problems)),
			zap.String("path", path), zap.Duration("translate", translated), zap.Duration("took", time.Since(start)),
			zap.Duration("heldFor", start.Sub(ch.first)), zap.Duration("sinceChange", time.Since(ch.first)))
	}
	if c.status != nil {
		c.status.Poke()
	}
}

// The paths a rebuild takes (the weir_table_builds_total label).
const (
	pathFull      = "full"
	pathEndpoints = "endpoints"
	pathIngresses = "ingresses"
)

// changes is what changed since the last rebuild.
type changes struct {
	full  bool            // something the fast paths do not cover
	dirty map[string]bool // Services whose EndpointSlices changed
	ings  map[string]bool // Ingresses that changed
	first time.Time       // when the first of them was noted
}

// takeChanges returns and resets what changed since the last rebuild.
func (c *Controller) takeChanges() changes {
	c.burstMu.Lock()
	defer c.burstMu.Unlock()
	ch := changes{full: c.full, dirty: c.dirty, ings: c.ingDirty, first: c.firstEvent}
	c.full, c.dirty, c.ingDirty, c.firstEvent = false, make(map[string]bool), make(map[string]bool), time.Time{}
	if ch.first.IsZero() {
		ch.first = time.Now()
	}
	return ch
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

// translate builds the next result: a fast path when only the
// EndpointSlices of the dirty Services, or only some Ingresses, changed and
// it applies (both give the table a full translation would), else a full
// translation. nil means there is nothing to publish: nothing could be
// listed, or no endpoint that a route uses changed.
func (c *Controller) translate(ch changes) (*translate.Result, string) {
	last := c.Last()
	switch {
	case last == nil || ch.full:
	case len(ch.ings) == 0:
		if in, err := c.listers.endpointInputs(ch.dirty); err == nil {
			res, ok := translate.Refresh(last, in, ch.dirty, c.gen+1)
			if ok && res == last {
				return nil, pathEndpoints // nothing any route uses changed
			}
			if ok {
				c.gen++
				return res, pathEndpoints
			}
		}
	case len(ch.dirty) == 0:
		if res := c.refreshIngresses(last, ch.ings); res != nil {
			return res, pathIngresses
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
		return nil, pathFull
	}
	c.gen++
	res := translate.Translate(in, c.gen)
	res.Problems = append(res.Problems, global...)
	return res, pathFull
}

// refreshIngresses is the Ingress fast path (translate.RefreshIngresses):
// nil when it does not apply. Ingresses that name Secrets (auth-secret,
// auth-tls-secret, proxy-ssl-secret) or ConfigMaps of headers take the full
// path, which fetches those objects (authsecrets.go).
func (c *Controller) refreshIngresses(last *translate.Result, keys map[string]bool) *translate.Result {
	ings, err := c.listers.ingresses(keys)
	if err != nil {
		return nil
	}
	for _, ing := range ings {
		if ing != nil && (len(secretRefs(ing)) > 0 || len(ownRefs(ing, configMapAnnotations)) > 0) {
			return nil
		}
	}
	_, global := c.translateOptions()
	res, ok := translate.RefreshIngresses(last, ings, c.gen+1)
	if !ok {
		return nil
	}
	c.gen++
	res.Problems = append(res.Problems, global...)
	return res
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
