// Package migrate answers, before anything moves, what a cluster running
// ingress-nginx keeps and loses on Weir: for each Ingress of the nginx class,
// each of its annotations, and each key of ingress-nginx's ConfigMap, whether
// Weir honours it as ingress-nginx does, honours it with a documented
// difference, accepts it as a no-op, or does not honour it (and what follows
// from that). It also says what to change to move the Ingresses and what to
// watch out for while both controllers run. It is pure: objects in, a
// Report out; `weir migrate` reads the objects and prints the Report.
package migrate

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"weir.dev/weir/controller/translate"
)

// Status is Weir's answer for one annotation, ConfigMap key or field.
type Status string

const (
	// Honoured: Weir behaves as ingress-nginx does.
	Honoured Status = "honoured"
	// Difference: honoured, with a documented difference (see Finding.Link).
	Difference Status = "difference"
	// NoOp: accepted and without effect, and nothing is lost by that.
	NoOp Status = "no-op"
	// NotHonoured: Weir does not do what ingress-nginx does; Finding.Detail
	// says what happens instead.
	NotHonoured Status = "not-honoured"
)

// Statuses in the order reports list them.
var Statuses = []Status{Honoured, Difference, NoOp, NotHonoured}

// Finding is Weir's answer for one key.
type Finding struct {
	// Key is the annotation, the ConfigMap key, or the Ingress field.
	Key    string `json:"key"`
	Status Status `json:"status"`
	// Detail is what Weir does; for NotHonoured, the consequence.
	Detail string `json:"detail"`
	// Link is the document describing a difference.
	Link string `json:"link,omitempty"`
}

// IngressReport is one Ingress of the nginx class.
type IngressReport struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Canary    bool   `json:"canary,omitempty"`
	// PairsWith are the Ingresses that must move with this one: a canary's
	// main Ingresses, or a main Ingress's canaries (namespace/name).
	PairsWith []string  `json:"pairsWith,omitempty"`
	Findings  []Finding `json:"findings"`
}

// ConfigMapReport is ingress-nginx's ConfigMap.
type ConfigMapReport struct {
	Namespace string    `json:"namespace"`
	Name      string    `json:"name"`
	Findings  []Finding `json:"findings"`
}

// Report is everything `weir migrate` prints.
type Report struct {
	// Class is the ingress-nginx class examined.
	Class      string            `json:"class"`
	Ingresses  []IngressReport   `json:"ingresses"`
	ConfigMaps []ConfigMapReport `json:"configMaps"`
	// OtherClasses counts the Ingresses of other classes, not examined.
	OtherClasses int      `json:"otherClasses"`
	Change       Change   `json:"change"`
	Warnings     []string `json:"warnings"`
	Summary      Summary  `json:"summary"`
}

// Summary counts the findings by status.
type Summary struct {
	Honoured    int `json:"honoured"`
	Difference  int `json:"difference"`
	NoOp        int `json:"noOp"`
	NotHonoured int `json:"notHonoured"`
}

func (s *Summary) add(st Status) {
	switch st {
	case Honoured:
		s.Honoured++
	case Difference:
		s.Difference++
	case NoOp:
		s.NoOp++
	case NotHonoured:
		s.NotHonoured++
	}
}

// Input is what migrate reads from a cluster.
type Input struct {
	Ingresses      []*networkingv1.Ingress
	IngressClasses []*networkingv1.IngressClass
	ConfigMaps     []*corev1.ConfigMap
}

// FromObjects sorts decoded objects (kubectl get -o yaml output) into an
// Input; other kinds are ignored.
func FromObjects(objs []runtime.Object) Input {
	var in Input
	for _, o := range objs {
		switch v := o.(type) {
		case *networkingv1.Ingress:
			if v.Namespace == "" {
				v.Namespace = "default"
			}
			in.Ingresses = append(in.Ingresses, v)
		case *networkingv1.IngressClass:
			in.IngressClasses = append(in.IngressClasses, v)
		case *corev1.ConfigMap:
			in.ConfigMaps = append(in.ConfigMaps, v)
		}
	}
	return in
}

// Options say what to examine and where to move it.
type Options struct {
	// Class is ingress-nginx's class (default "nginx").
	Class string
	// ConfigMap is ingress-nginx's ConfigMap as namespace/name; "" finds it
	// by its usual names and labels.
	ConfigMap string
	// WeirClass is the IngressClass to move to (default: the IngressClass of
	// ControllerClass in the input, else "weir").
	WeirClass string
	// ControllerClass is Weir's controller (default weir.dev/ingress-controller).
	ControllerClass string
}

// DefaultClass is ingress-nginx's usual class name.
const DefaultClass = "nginx"

func (o Options) withDefaults(in Input) Options {
	if o.Class == "" {
		o.Class = DefaultClass
	}
	if o.ControllerClass == "" {
		o.ControllerClass = translate.DefaultControllerClass
	}
	if o.WeirClass == "" {
		o.WeirClass = translate.DefaultIngressClass
		for _, c := range in.IngressClasses {
			if c.Spec.Controller == o.ControllerClass {
				o.WeirClass = c.Name
				break
			}
		}
	}
	return o
}

// Analyze builds the Report.
func Analyze(in Input, opts Options) *Report {
	opts = opts.withDefaults(in)
	nginx, other := selectIngresses(in, opts.Class)
	sortIngresses(nginx)
	r := &Report{Class: opts.Class, OtherClasses: other, Ingresses: []IngressReport{}, ConfigMaps: []ConfigMapReport{}}
	pairs := pairCanaries(nginx)
	spec := specFindings(nginx, opts)
	for _, ing := range nginx {
		ir := IngressReport{Namespace: ing.Namespace, Name: ing.Name, Canary: isCanary(ing), PairsWith: pairs.of(ing)}
		ir.Findings = append(annotationFindings(ing, nginx, pairs), spec[ref(ing)]...)
		r.Ingresses = append(r.Ingresses, ir)
	}
	for _, cm := range selectConfigMaps(in.ConfigMaps, opts.ConfigMap) {
		r.ConfigMaps = append(r.ConfigMaps, ConfigMapReport{Namespace: cm.Namespace, Name: cm.Name, Findings: configMapFindings(cm.Data)})
	}
	r.Change = change(nginx, in, opts, pairs)
	r.Warnings = warnings(nginx, in, opts, pairs)
	r.count()
	return r
}

func (r *Report) count() {
	r.Summary = Summary{}
	for _, ir := range r.Ingresses {
		for _, f := range ir.Findings {
			r.Summary.add(f.Status)
		}
	}
	for _, cm := range r.ConfigMaps {
		for _, f := range cm.Findings {
			r.Summary.add(f.Status)
		}
	}
}

// selectIngresses returns the Ingresses of class, as ingress-nginx picks
// them: ingressClassName, else the legacy annotation, else no class while
// class's IngressClass is the cluster default. other counts the rest.
func selectIngresses(in Input, class string) (nginx []*networkingv1.Ingress, other int) {
	isDefault := false
	for _, c := range in.IngressClasses {
		if c.Name == class && c.Annotations["ingressclass.kubernetes.io/is-default-class"] == "true" {
			isDefault = true
		}
	}
	for _, ing := range in.Ingresses {
		if classOf(ing) == class || (classOf(ing) == "" && isDefault) {
			nginx = append(nginx, ing)
		} else {
			other++
		}
	}
	return nginx, other
}

const legacyClass = "kubernetes.io/ingress.class"

// classOf is the class an Ingress names ("" for none).
func classOf(ing *networkingv1.Ingress) string {
	if ing.Spec.IngressClassName != nil {
		return *ing.Spec.IngressClassName
	}
	return ing.Annotations[legacyClass]
}

func sortIngresses(ings []*networkingv1.Ingress) {
	sort.Slice(ings, func(i, j int) bool { return ref(ings[i]) < ref(ings[j]) })
}

// ref is namespace/name.
func ref(ing *networkingv1.Ingress) string { return ing.Namespace + "/" + ing.Name }
