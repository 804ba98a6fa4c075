package controller

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"weir.dev/weir/controller/globalconfig"
	"weir.dev/weir/controller/translate"
)

// GlobalPublisher receives the global ConfigMap's configuration
// (--configmap) each time it changes; a Publisher may implement it.
type GlobalPublisher interface {
	PublishGlobal(cfg *globalconfig.Config)
}

// globalState follows the one global ConfigMap: its own informer, limited
// to that namespace and name (least privilege), and the Tracker that keeps
// each key's last valid value.
type globalState struct {
	ref      translate.ObjectRef
	factory  informers.SharedInformerFactory
	tracker  globalconfig.Tracker
	start    *globalconfig.Config // what the listeners started with
	applied  bool                 // refresh has applied a version
	lastData map[string]string    // the data last applied
	cfg      *globalconfig.Config
	problems []translate.Problem
}

// newGlobalState reads the ConfigMap once, so that the listeners start
// with its ScopeStart keys (StartConfig), and prepares its informer. A
// ConfigMap that is missing or cannot be read counts as empty.
func newGlobalState(client kubernetes.Interface, ref string, log *zap.Logger) (*globalState, error) {
	ns, name, ok := strings.Cut(ref, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("--configmap %q: want namespace/name", ref)
	}
	g := &globalState{ref: translate.ObjectRef{Kind: "ConfigMap", Namespace: ns, Name: name}}
	g.factory = informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns),
		informers.WithTransform(stripForCache),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var data map[string]string
	cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case err == nil:
		data = cm.Data
	case apierrors.IsNotFound(err):
		log.Warn("the --configmap ConfigMap does not exist; using the defaults until it does", zap.String("configmap", ref))
	default:
		log.Warn("reading the --configmap ConfigMap; using the defaults until the watch delivers it", zap.String("configmap", ref), zap.Error(err))
	}
	g.start, _ = g.tracker.Apply(data) // problems are reported with the first table
	g.cfg = g.start
	return g, nil
}

// refresh applies the cached ConfigMap when it changed since the last
// rebuild; it reports whether the configuration is new.
func (g *globalState) refresh() bool {
	inf := g.factory.Core().V1().ConfigMaps()
	if !inf.Informer().HasSynced() {
		return false // the start configuration stays until the watch delivers
	}
	var data map[string]string
	cm, err := inf.Lister().ConfigMaps(g.ref.Namespace).Get(g.ref.Name)
	if err == nil {
		data = cm.Data
	}
	if g.applied && maps.Equal(data, g.lastData) {
		return false
	}
	g.applied, g.lastData = true, data
	cfg, ps := g.tracker.Apply(data)
	g.cfg = cfg
	g.problems = g.problems[:0]
	for _, p := range ps {
		g.problem(p.Key, p.Reason, p.Message)
	}
	for _, k := range cfg.StartChanged(g.start) {
		g.problem(k, globalconfig.ReasonRestartRequired,
			"changed since Weir started: this key is read only when Weir starts, so the new value takes effect at the next restart")
	}
	return true
}

func (g *globalState) problem(key, reason, msg string) {
	g.problems = append(g.problems, translate.Problem{Object: g.ref, Field: "data[" + key + "]", Reason: reason,
		Message: msg, Severity: translate.Warning})
}

// StartConfig is the global configuration Weir started with (nil without
// --configmap): cmd/weir configures the listeners from it.
func (c *Controller) StartConfig() *globalconfig.Config {
	if c.global == nil {
		return nil
	}
	return c.global.start
}

// translateOptions are the translation options with the ConfigMap's
// defaults, and the ConfigMap's problems. A new configuration also goes to
// the publisher's proxy-wide settings (GlobalPublisher).
func (c *Controller) translateOptions() (translate.Options, []translate.Problem) {
	opts := c.opts.Translate
	g := c.global
	if g == nil {
		return opts, nil
	}
	if g.refresh() {
		if gp, ok := c.pub.(GlobalPublisher); ok {
			gp.PublishGlobal(g.cfg)
		}
		c.log.Info("global ConfigMap applied", zap.String("configmap", g.ref.Namespace+"/"+g.ref.Name),
			zap.Int("keys", len(g.lastData)), zap.Int("problems", len(g.problems)))
	}
	opts.AnnotationDefaults = g.cfg.AnnotationDefaults
	opts.HSTS, opts.DisableHSTS = g.cfg.HSTS, g.cfg.HSTS == ""
	opts.CustomHTTPErrors, opts.Compression = g.cfg.Errors.CustomHTTPErrors, g.cfg.Compression
	opts.AddHeaders, opts.ProxySetHeaders = g.cfg.Headers.Add, g.cfg.Headers.ProxySet
	opts.AllowedResponseHeaders, opts.GlobalConfigMap = g.cfg.Headers.AllowedResponse, g.ref
	return opts, g.problems
}
