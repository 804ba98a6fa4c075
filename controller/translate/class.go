package translate

import (
	networkingv1 "k8s.io/api/networking/v1"
)

const (
	legacyClassAnnotation  = "kubernetes.io/ingress.class"
	defaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class"
)

// IsWeirs reports whether an Ingress is Weir's: its ingressClassName names
// an IngressClass whose controller is Weir's; or its legacy class annotation
// equals Weir's class; or it names no class and one of Weir's IngressClasses
// is the cluster default (or --watch-ingress-without-class is set). With
// --ingress-class-by-name, an ingressClassName equal to Weir's class name
// is Weir's too.
func IsWeirs(ing *networkingv1.Ingress, classes []*networkingv1.IngressClass, opts Options) bool {
	opts = opts.withDefaults()
	if name := ing.Spec.IngressClassName; name != nil {
		if opts.ClassByName && *name == opts.IngressClass {
			return true
		}
		for _, c := range classes {
			if c.Name == *name {
				return c.Spec.Controller == opts.ControllerClass
			}
		}
		return false
	}
	if v, ok := ing.Annotations[legacyClassAnnotation]; ok {
		return v == opts.IngressClass
	}
	for _, c := range classes {
		if c.Spec.Controller == opts.ControllerClass && c.Annotations[defaultClassAnnotation] == "true" {
			return true
		}
	}
	return opts.WatchWithoutClass
}

func (o Options) withDefaults() Options {
	if o.IngressClass == "" {
		o.IngressClass = DefaultIngressClass
	}
	if o.ControllerClass == "" {
		o.ControllerClass = DefaultControllerClass
	}
	if o.GatewayControllerName == "" {
		o.GatewayControllerName = DefaultGatewayControllerName
	}
	return o
}
