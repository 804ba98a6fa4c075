package controller

import (
	"context"
	"strings"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
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

// configMapAnnotations are the annotations naming a ConfigMap of headers
// (annotations/headers.go), read in the Ingress's own namespace only.
var configMapAnnotations = []string{"auth-proxy-set-headers", "custom-headers"}

// secretFetchTimeout bounds one Get of a named Secret or ConfigMap.
const secretFetchTimeout = 10 * time.Second

// secretRetry is the wait before a rebuild retries an object whose Get
// failed (its paths answer 503 meanwhile).
const secretRetry = 5 * time.Second

// authSecrets gives translation the Secrets that Weir's Ingresses name in
// secretAnnotations, and the ConfigMaps of headers they name in
// configMapAnnotations or the global ConfigMap names (add-headers,
// proxy-set-headers). The TLS informer lists only kubernetes.io/tls
// Secrets; these may be of any type. Both kinds come through named
// (named.go): metadata-only informers, data read per version of a named
// object only.
type authSecrets struct {
	factory    informers.SharedInformerFactory
	lister     listersv1.SecretLister
	log        *zap.Logger
	retry      func() // schedules a full rebuild after secretRetry
	secrets    *named[*corev1.Secret]
	configMaps *named[*corev1.ConfigMap]
}

func newAuthSecrets(client kubernetes.Interface, namespace string, log *zap.Logger, retry func()) *authSecrets {
	f := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithNamespace(namespace), informers.WithTransform(stripAllData))
	a := &authSecrets{factory: f, lister: f.Core().V1().Secrets().Lister(), log: log, retry: retry}
	a.secrets = newNamed(func(ns, name string) (*corev1.Secret, error) { return a.lister.Secrets(ns).Get(name) },
		func(ctx context.Context, ns, name string) (*corev1.Secret, error) {
			return client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		})
	cms := f.Core().V1().ConfigMaps().Lister()
	a.configMaps = newNamed(func(ns, name string) (*corev1.ConfigMap, error) { return cms.ConfigMaps(ns).Get(name) },
		func(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
			return client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
		})
	return a
}

// informer is the metadata-only Secret informer; its handler schedules a
// rebuild only for a Secret an Ingress names.
func (a *authSecrets) informer(enqueue func()) (cache.SharedIndexInformer, cache.ResourceEventHandler) {
	return a.factory.Core().V1().Secrets().Informer(), a.secrets.handler(enqueue)
}

// configMapInformer is the metadata-only ConfigMap informer; its handler
// schedules a rebuild only for a headers ConfigMap that is named.
func (a *authSecrets) configMapInformer(enqueue func()) (cache.SharedIndexInformer, cache.ResourceEventHandler) {
	return a.factory.Core().V1().ConfigMaps().Informer(), a.configMaps.handler(enqueue)
}

func (a *authSecrets) isNamed(key string) bool { return a.secrets.isNamed(key) }

// resolve returns the Secrets and headers ConfigMaps named by Weir's
// Ingresses (and by opts' add-headers and proxy-set-headers), with their
// data. One whose Get failed is left out (its paths answer 503) and a
// rebuild is retried later.
func (a *authSecrets) resolve(ings []*networkingv1.Ingress, classes []*networkingv1.IngressClass, opts translate.Options) ([]*corev1.Secret, []*corev1.ConfigMap) {
	secretKeys, cmKeys := map[string]bool{}, map[string]bool{}
	for _, ing := range ings {
		if translate.IsWeirs(ing, classes, opts) {
			for _, key := range ownRefs(ing, secretAnnotations) {
				secretKeys[key] = true
			}
			for _, key := range ownRefs(ing, configMapAnnotations) {
				cmKeys[key] = true
			}
		}
	}
	for _, key := range []string{opts.AddHeaders, opts.ProxySetHeaders} {
		if key != "" {
			cmKeys[key] = true
		}
	}
	secrets, failed := a.secrets.resolve(secretKeys)
	cms, cmFailed := a.configMaps.resolve(cmKeys)
	for key, err := range failed {
		a.log.Warn("reading a Secret named by an Ingress; its paths answer 503 until it is read", zap.String("secret", key), zap.Error(err))
	}
	for key, err := range cmFailed {
		a.log.Warn("reading a ConfigMap of headers; the paths that need it answer 503 until it is read", zap.String("configmap", key), zap.Error(err))
	}
	if len(failed)+len(cmFailed) > 0 && a.retry != nil {
		a.retry()
	}
	return secrets, cms
}

// secretRefs are the "namespace/name" keys of the Secrets an Ingress names
// in its own namespace.
func secretRefs(ing *networkingv1.Ingress) []string { return ownRefs(ing, secretAnnotations) }

// ownRefs are the "namespace/name" keys that the annotations name in the
// Ingress's own namespace.
func ownRefs(ing *networkingv1.Ingress, names []string) []string {
	var out []string
	for _, ann := range names {
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
