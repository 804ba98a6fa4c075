package controller

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	listersv1 "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"weir.dev/weir/annotations"
	"weir.dev/weir/controller/translate"
)

// secretAnnotations are the annotations whose Secret (of any type: Opaque,
// kubernetes.io/basic-auth) translation reads: users, client-certificate CAs, backend CAs and keys. Only a Secret in the
// Ingress's own namespace is fetched; translation reports any other.
var secretAnnotations = []string{"auth-secret", "auth-tls-secret", "proxy-ssl-secret"}

// secretFetchTimeout bounds one Get of a named Secret.
const secretFetchTimeout = 10 * time.Second

// secretRetry is the wait before a rebuild retries a Secret whose Get
// failed (its paths answer 503 meanwhile).
const secretRetry = 5 * time.Second

// authSecrets gives translation the Secrets that Weir's Ingresses name in
// secretAnnotations. The TLS informer lists only kubernetes.io/tls Secrets;
// these may be of any type. A second informer watches every Secret but
// keeps no data (stripAllData), only enough to notice changes; the data of
// a named Secret is read with one Get per resourceVersion, so the process
// holds the data of no Secret an Ingress does not name.
type authSecrets struct {
	client  kubernetes.Interface
	factory informers.SharedInformerFactory
	lister  listersv1.SecretLister
	log     *zap.Logger
	retry   func() // schedules a full rebuild after secretRetry

	mu    sync.Mutex
	named map[string]bool // "namespace/name" named by the last rebuild (read by the handler)
	// data holds the fetched copies of named Secrets; only the rebuild
	// goroutine touches it, so no Get runs under mu.
	data map[string]*corev1.Secret
}

func newAuthSecrets(client kubernetes.Interface, namespace string, log *zap.Logger, retry func()) *authSecrets {
	f := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithNamespace(namespace), informers.WithTransform(stripAllData))
	return &authSecrets{client: client, factory: f, lister: f.Core().V1().Secrets().Lister(), log: log, retry: retry,
		named: map[string]bool{}, data: map[string]*corev1.Secret{}}
}

// informer is the metadata-only Secret informer; its handler schedules a
// rebuild only for a Secret an Ingress names.
func (a *authSecrets) informer(enqueue func()) (cache.SharedIndexInformer, cache.ResourceEventHandler) {
	onChange := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		s, ok := obj.(*corev1.Secret)
		if !ok || a.isNamed(s.Namespace+"/"+s.Name) {
			enqueue()
		}
	}
	return a.factory.Core().V1().Secrets().Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc: onChange,
		UpdateFunc: func(oldObj, newObj any) {
			if changed(oldObj, newObj) {
				onChange(newObj)
			}
		},
		DeleteFunc: onChange,
	}
}

func (a *authSecrets) isNamed(key string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.named[key]
}

// resolve returns the Secrets named by Weir's Ingresses, with their data.
// A Secret the informer does not know is left out (translation answers
// 503 for its paths); one whose Get fails is left out too, and a rebuild is
// retried later: never a stale copy of a Secret known to have changed.
func (a *authSecrets) resolve(ings []*networkingv1.Ingress, classes []*networkingv1.IngressClass, opts translate.Options) []*corev1.Secret {
	named := map[string]bool{}
	for _, ing := range ings {
		if translate.IsWeirs(ing, classes, opts) {
			for _, key := range secretRefs(ing) {
				named[key] = true
			}
		}
	}
	keys := make([]string, 0, len(named))
	for k := range named {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	a.mu.Lock()
	a.named = named
	a.mu.Unlock()
	for k := range a.data {
		if !named[k] {
			delete(a.data, k)
		}
	}
	out := make([]*corev1.Secret, 0, len(keys))
	failed := false
	for _, key := range keys {
		s, err := a.fetch(key)
		if err != nil {
			failed = true
			a.log.Warn("reading a Secret named by an Ingress; its paths answer 503 until it is read", zap.String("secret", key), zap.Error(err))
		}
		if s != nil {
			out = append(out, s)
		}
	}
	if failed && a.retry != nil {
		a.retry()
	}
	return out
}

// fetch returns the data of one named Secret, from the last Get when the
// informer shows the same resourceVersion. nil, nil: no such Secret.
func (a *authSecrets) fetch(key string) (*corev1.Secret, error) {
	ns, name, _ := strings.Cut(key, "/")
	meta, err := a.lister.Secrets(ns).Get(name)
	if err != nil {
		delete(a.data, key)
		return nil, nil // not in the informer: the Secret does not exist
	}
	if have := a.data[key]; have != nil && meta.ResourceVersion != "" && have.ResourceVersion == meta.ResourceVersion {
		return have, nil
	}
	delete(a.data, key)
	ctx, cancel := context.WithTimeout(context.Background(), secretFetchTimeout)
	defer cancel()
	s, err := a.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.ManagedFields = nil
	delete(s.Annotations, corev1.LastAppliedConfigAnnotation)
	a.data[key] = s
	return s, nil
}

// secretRefs are the "namespace/name" keys of the Secrets an Ingress names
// in its own namespace.
func secretRefs(ing *networkingv1.Ingress) []string {
	var out []string
	for _, ann := range secretAnnotations {
		v := strings.TrimSpace(ing.Annotations[annotations.Prefix+ann])
		if v == "" {
			continue
		}
		ns, name, found := strings.Cut(v, "/")
		if !found {
			ns, name = ing.Namespace, v
		}
		if ns == ing.Namespace && name != "" {
			out = append(out, ns+"/"+name)
		}
	}
	return out
}

// stripAllData is the transform of the metadata-only Secret informer: no
// data, no managed fields, no last-applied copy (which would hold the data).
func stripAllData(obj any) (any, error) {
	if s, ok := obj.(*corev1.Secret); ok {
		s.Data, s.StringData, s.ManagedFields = nil, nil, nil
		delete(s.Annotations, corev1.LastAppliedConfigAnnotation)
	}
	return obj, nil
}
