package e2e

import (
	"net/http"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const defaultClassAnnotation = "ingressclass.kubernetes.io/is-default-class"

// TestIngressClass checks which Ingresses Weir serves: not those of another
// class (by ingressClassName or the legacy annotation), and those without a
// class only while Weir's IngressClass is the default one.
func TestIngressClass(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ns := namespace(t, ctx)
	c := client()
	echoApp(t, ctx, ns, "web", 1)
	other := &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: "other-" + ns},
		Spec:       networkingv1.IngressClassSpec{Controller: "example.com/other"},
	}
	if _, err := env.cluster.Client.NetworkingV1().IngressClasses().Create(ctx, other, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.cluster.Client.NetworkingV1().IngressClasses().Delete(ctxFor(t, 30*time.Second), other.Name, metav1.DeleteOptions{})
	})

	byName := ingress(ns, "other-class", "other."+ns+".test", "web", nil)
	byName.Spec.IngressClassName = &other.Name
	createIngress(t, ctx, byName)
	legacy := ingress(ns, "legacy-other", "legacy."+ns+".test", "web", map[string]string{"kubernetes.io/ingress.class": "nginx"})
	legacy.Spec.IngressClassName = nil
	createIngress(t, ctx, legacy)
	classless := ingress(ns, "classless", "classless."+ns+".test", "web", nil)
	classless.Spec.IngressClassName = nil
	createIngress(t, ctx, classless)
	// Created last: once Weir serves it, it has seen the three above.
	createIngress(t, ctx, ingress(ns, "weir", "weir."+ns+".test", "web", nil))
	waitServed(t, c, "weir."+ns+".test", nil, "web")
	for _, host := range []string{"other.", "legacy.", "classless."} {
		if got := tally(t, c, host+ns+".test", nil, 10); got[""] != 10 {
			t.Errorf("%s%s.test (not Weir's): want no route (404), got answers %v", host, ns, got)
		}
	}

	setDefaultClass(t, "true")
	t.Cleanup(func() { setDefaultClass(t, "false") })
	waitServed(t, c, "classless."+ns+".test", nil, "web")
	expectAll(t, c, "other."+ns+".test", nil, "", 10)

	setDefaultClass(t, "false")
	waitStatus(t, c, "classless."+ns+".test", http.StatusNotFound)
}

// setDefaultClass sets the is-default-class annotation of Weir's
// IngressClass (deploy/base's "weir").
func setDefaultClass(t *testing.T, v string) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	api := env.cluster.Client.NetworkingV1().IngressClasses()
	for i := 0; ; i++ {
		ic, err := api.Get(ctx, "weir", metav1.GetOptions{})
		if err == nil {
			if ic.Annotations == nil {
				ic.Annotations = map[string]string{}
			}
			ic.Annotations[defaultClassAnnotation] = v
			_, err = api.Update(ctx, ic, metav1.UpdateOptions{})
		}
		if err == nil {
			return
		}
		if i == 5 {
			t.Fatalf("setting %s=%s on IngressClass weir: %v", defaultClassAnnotation, v, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestIngressStatus checks that Weir writes the address of the Service in
// front of it (deploy/base's --publish-service) into the status of the
// Ingresses it serves, and leaves other classes' alone.
func TestIngressStatus(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	ns := namespace(t, ctx)
	echoApp(t, ctx, ns, "web", 1)
	createIngress(t, ctx, ingress(ns, "served", "served."+ns+".test", "web", nil))
	foreign := ingress(ns, "foreign", "foreign."+ns+".test", "web", map[string]string{"kubernetes.io/ingress.class": "nginx"})
	foreign.Spec.IngressClassName = nil
	createIngress(t, ctx, foreign)

	api := env.cluster.Client.NetworkingV1().Ingresses(ns)
	var got []networkingv1.IngressLoadBalancerIngress
	deadline := time.Now().Add(60 * time.Second)
	for {
		ing, err := api.Get(ctx, "served", metav1.GetOptions{})
		if err == nil {
			got = ing.Status.LoadBalancer.Ingress
			if len(got) == 1 && got[0].IP == env.address {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("status.loadBalancer.ingress of a served Ingress: got %+v within 60 s, want [{IP: %s}]", got, env.address)
		}
		time.Sleep(200 * time.Millisecond)
	}
	ing, err := api.Get(ctx, "foreign", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(ing.Status.LoadBalancer.Ingress); n != 0 {
		t.Errorf("an Ingress of class nginx got status %+v from Weir", ing.Status.LoadBalancer.Ingress)
	}
}
