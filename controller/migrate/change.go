package migrate

import (
	"fmt"
	"sort"

	networkingv1 "k8s.io/api/networking/v1"
)

// Change is what to do to move the Ingresses to Weir.
type Change struct {
	// IngressClass is the IngressClass to create first, as YAML; "" when
	// the cluster already has one for Weir's controller.
	IngressClass string `json:"ingressClass,omitempty"`
	// ClassName is the class the Ingresses move to.
	ClassName string `json:"className"`
	// Moves are the Ingresses to move, each group in one step.
	Moves []Move `json:"moves"`
}

// Move is a group of Ingresses that must move together (a main Ingress and
// its canaries) and the commands that move them.
type Move struct {
	Ingresses []string `json:"ingresses"`
	Commands  []string `json:"commands"`
}

func change(nginx []*networkingv1.Ingress, in Input, opts Options, p *pairs) Change {
	c := Change{ClassName: opts.WeirClass, Moves: []Move{}}
	if !hasControllerClass(in, opts.ControllerClass) {
		c.IngressClass = fmt.Sprintf("apiVersion: networking.k8s.io/v1\nkind: IngressClass\nmetadata:\n  name: %s\nspec:\n  controller: %s\n",
			opts.WeirClass, opts.ControllerClass)
	}
	byRef := map[string]*networkingv1.Ingress{}
	for _, ing := range nginx {
		byRef[ref(ing)] = ing
	}
	done := map[string]bool{}
	for _, ing := range nginx {
		if done[ref(ing)] {
			continue
		}
		var m Move
		for _, r := range group(ref(ing), p) {
			done[r] = true
			m.Ingresses = append(m.Ingresses, r)
			m.Commands = append(m.Commands, patchCommand(byRef[r], opts.WeirClass))
		}
		c.Moves = append(c.Moves, m)
	}
	return c
}

// group is start and every Ingress paired with it, directly or through
// another, sorted.
func group(start string, p *pairs) []string {
	seen := map[string]bool{start: true}
	queue := []string{start}
	for len(queue) > 0 {
		r := queue[0]
		queue = queue[1:]
		for _, o := range p.with[r] {
			if !seen[o] {
				seen[o] = true
				queue = append(queue, o)
			}
		}
	}
	out := make([]string, 0, len(seen))
	for r := range seen {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

func hasControllerClass(in Input, controller string) bool {
	for _, c := range in.IngressClasses {
		if c.Spec.Controller == controller {
			return true
		}
	}
	return false
}

// patchCommand moves one Ingress to class. The legacy annotation must go in
// the same patch: the API server refuses an Ingress that has both.
func patchCommand(ing *networkingv1.Ingress, class string) string {
	if _, legacy := ing.Annotations[legacyClass]; legacy {
		return fmt.Sprintf(`kubectl -n %s patch ingress %s --type=json -p '[{"op":"remove","path":"/metadata/annotations/kubernetes.io~1ingress.class"},{"op":"add","path":"/spec/ingressClassName","value":%q}]'`,
			ing.Namespace, ing.Name, class)
	}
	return fmt.Sprintf(`kubectl -n %s patch ingress %s --type=merge -p '{"spec":{"ingressClassName":%q}}'`, ing.Namespace, ing.Name, class)
}

// warnings are what changes while both controllers run.
func warnings(nginx []*networkingv1.Ingress, in Input, opts Options, p *pairs) []string {
	out := []string{
		"Changing an Ingress's class moves it at once: ingress-nginx stops serving it and Weir starts. Until DNS or the load balancer sends its hosts to Weir, requests that still reach ingress-nginx for them get 404. To compare first, apply a copy under another name with ingressClassName: " + opts.WeirClass + " and test it through Weir's address (docs/migrating-from-ingress-nginx.md).",
		fmt.Sprintf("Never let both controllers watch one Ingress (Weir started with --ingress-class=%s, or both IngressClasses marked default): both would serve it, each with its own behaviour, and both would write its status.loadBalancer, each overwriting the other (external-dns follows whichever wrote last).", opts.Class),
	}
	canaries, classless := 0, 0
	for _, ing := range nginx {
		if isCanary(ing) && len(p.of(ing)) > 0 {
			canaries++
		}
		if classOf(ing) == "" {
			classless++
		}
	}
	if canaries > 0 {
		out = append(out, fmt.Sprintf("%d canary Ingress(es) pair with main Ingresses: move each group in one step. A canary pairs only with a main Ingress of the same class: a main Ingress moved alone loses its canary split, and a canary moved alone receives nothing.", canaries))
	}
	if classless > 0 {
		out = append(out, fmt.Sprintf("%d Ingress(es) name no class and are ingress-nginx's because its IngressClass is the default: the commands give them ingressClassName. Do not mark Weir's IngressClass default while ingress-nginx's is.", classless))
	}
	return out
}
