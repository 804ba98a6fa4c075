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
// is the cluster default.
func IsWeirs(ing *networkingv1.Ingress, classes []*networkingv1.IngressClass, opts Options) bool {
	opts = opts.withDefaults()
	if name := ing.Spec.IngressClassName; name != nil {
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
	return false
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
