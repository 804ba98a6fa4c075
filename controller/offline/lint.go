package offline

import (
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"weir.dev/weir/controller/manifests"
	"weir.dev/weir/controller/translate"
)

// LintOptions say which Ingresses of application manifests are Weir's.
type LintOptions struct {
	// All treats every Ingress as Weir's, whatever class it names.
	All bool
}

// LintResult is what `weir translate` reports on application manifests.
type LintResult struct {
	// Table is the routing table's dump ("" when none could be built).
	Table string
	// Problems are configuration problems only: what depends on the
	// cluster's runtime state (Services, endpoints, TLS Secrets that are not
	// in the files) is left out.
	Problems []translate.Problem
	// Ignored are the Ingresses that are not Weir's.
	Ignored []translate.ObjectRef
}

// lintClass is the IngressClass --all moves every Ingress to.
const lintClass = "weir-lint-all"

// Lint translates application manifests as they are. Without an
// IngressClass named opts.IngressClass in the objects, Ingresses naming that
// class (by ingressClassName or the legacy annotation) are Weir's, as they
// would be on a cluster where Weir is installed; with lo.All every Ingress
// is. Objects are not modified.
func Lint(objs []runtime.Object, opts translate.Options, lo LintOptions) LintResult {
	if opts.IngressClass == "" {
		opts.IngressClass = translate.DefaultIngressClass
	}
	if opts.ControllerClass == "" {
		opts.ControllerClass = translate.DefaultControllerClass
	}
	in := manifests.Inputs(adopt(objs, opts, lo), opts)
	var res LintResult
	for _, ing := range in.Ingresses {
		if !translate.IsWeirs(ing, in.IngressClasses, opts) {
			res.Ignored = append(res.Ignored, translate.ObjectRef{Kind: "Ingress", Namespace: ing.Namespace, Name: ing.Name})
		}
	}
	out := translate.Translate(in, 1)
	if out.Table != nil {
		res.Table = out.Table.Dump()
	}
	for _, p := range out.Problems {
		if !runtimeState(p, in) {
			res.Problems = append(res.Problems, p)
		}
	}
	return res
}

// adopt returns objs with the IngressClass that makes the wanted Ingresses
// Weir's (and, with lo.All, copies of every Ingress pointing at it).
func adopt(objs []runtime.Object, opts translate.Options, lo LintOptions) []runtime.Object {
	out := make([]runtime.Object, 0, len(objs)+1)
	hasClass := false
	for _, o := range objs {
		if c, ok := o.(*networkingv1.IngressClass); ok && c.Name == opts.IngressClass {
			hasClass = true
		}
		if ing, ok := o.(*networkingv1.Ingress); ok && lo.All {
			cp := ing.DeepCopy()
			delete(cp.Annotations, "kubernetes.io/ingress.class")
			name := lintClass
			cp.Spec.IngressClassName = &name
			o = cp
		}
		out = append(out, o)
	}
	if lo.All {
		return append(out, ingressClass(lintClass, opts.ControllerClass))
	}
	if !hasClass {
		out = append(out, ingressClass(opts.IngressClass, opts.ControllerClass))
	}
	return out
}

func ingressClass(name, controller string) *networkingv1.IngressClass {
	return &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: networkingv1.IngressClassSpec{Controller: controller}}
}

// runtimeState reports problems that come from the cluster's state rather
// than from the manifests: a Service, TLS or basic-auth Secret the files do
// not hold (deployed separately, or created by cert-manager), and endpoints
// (which only a running cluster has).
func runtimeState(p translate.Problem, in *translate.Inputs) bool {
	switch p.Reason {
	case translate.ReasonNoReadyEndpoints, translate.ReasonServiceNotFound:
		return true
	case translate.ReasonAuthSecretNotFound:
		// Basic-auth Secrets are made in the cluster (sealed, or by an
		// operator), like TLS ones; one in the files is checked.
		return true
	case translate.ReasonTLSSecret:
		name, ok := tlsSecretName(p, in.Ingresses)
		return ok && !hasSecret(in.Secrets, p.Object.Namespace, name)
	}
	return false
}

// tlsSecretName is the secretName a spec.tls[i].secretName problem is about.
func tlsSecretName(p translate.Problem, ings []*networkingv1.Ingress) (string, bool) {
	idx, ok := strings.CutPrefix(p.Field, "spec.tls[")
	if !ok {
		return "", false
	}
	idx, ok = strings.CutSuffix(idx, "].secretName")
	i, err := strconv.Atoi(idx)
	if !ok || err != nil {
		return "", false
	}
	for _, ing := range ings {
		if ing.Namespace == p.Object.Namespace && ing.Name == p.Object.Name && i < len(ing.Spec.TLS) {
			return ing.Spec.TLS[i].SecretName, ing.Spec.TLS[i].SecretName != ""
		}
	}
	return "", false
}

func hasSecret(secrets []*corev1.Secret, ns, name string) bool {
	for _, s := range secrets {
		if s.Namespace == ns && s.Name == name {
			return true
		}
	}
	return false
}
