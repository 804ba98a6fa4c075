package migrate

import (
	"sort"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"weir.dev/weir/annotations"
)

// Links of documented differences.
const (
	differencesDoc = "docs/differences.md"
	annotationsDoc = "docs/annotations.md"
)

// subject is one Ingress being examined, with what its findings depend on.
type subject struct {
	ing    *networkingv1.Ingress
	canary bool
	nginx  []*networkingv1.Ingress
	pairs  *pairs
	// problems are the annotations package's problems, by annotation key.
	problems map[string][]annotations.Problem
}

func isCanary(ing *networkingv1.Ingress) bool { return annotations.IsCanary(ing.Annotations) }

// parse reads annotations as Weir does for this kind of Ingress.
func (s *subject) parse(ann map[string]string) *annotations.Config {
	if s.canary {
		c, _ := annotations.ParseCanary(ann)
		return c
	}
	c, _ := annotations.Parse(ann)
	return c
}

// annotationFindings answers each nginx.ingress.kubernetes.io/ annotation
// of ing, in key order. The answer comes from the annotations package's
// registry (Supported, Status, Consequence) and parser (the problems a value
// raises), so it follows what Weir actually does.
func annotationFindings(ing *networkingv1.Ingress, nginx []*networkingv1.Ingress, p *pairs) []Finding {
	s := &subject{ing: ing, canary: isCanary(ing), nginx: nginx, pairs: p, problems: map[string][]annotations.Problem{}}
	var ps []annotations.Problem
	if s.canary {
		_, ps = annotations.ParseCanary(ing.Annotations)
	} else {
		_, ps = annotations.Parse(ing.Annotations)
	}
	for _, pr := range ps {
		s.problems[pr.Field] = append(s.problems[pr.Field], pr)
	}
	keys := make([]string, 0, len(ing.Annotations))
	for k := range ing.Annotations {
		if strings.HasPrefix(k, annotations.Prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]Finding, 0, len(keys))
	for _, k := range keys {
		f := s.classify(k, ing.Annotations[k])
		f.Key = k
		out = append(out, f)
	}
	return out
}

func (s *subject) classify(key, value string) Finding {
	name := strings.TrimPrefix(key, annotations.Prefix)
	e, known := annotations.Lookup(key)
	switch {
	case (known && e.Snippet) || (!known && strings.HasSuffix(name, "-snippet")):
		return s.notHonoured(key, "the snippet is ignored: Weir renders no configuration, so none can be injected")
	case !known:
		msg := "unknown annotation; it has no effect"
		if ps := s.problems[key]; len(ps) > 0 {
			msg = ps[0].Message // it may name the key meant
		}
		return s.notHonoured(key, msg)
	case s.canary && !e.OnCanary:
		return Finding{Status: NoOp, Detail: "ignored on a canary Ingress, as in ingress-nginx: the main Ingress owns the route"}
	case e.Status == annotations.NoOp:
		return Finding{Status: NoOp, Detail: e.Consequence}
	case e.Status == annotations.FailClosed:
		return Finding{Status: NotHonoured, Detail: e.Consequence + ": Weir fails closed on an access restriction it cannot enforce"}
	case !e.Supported:
		return s.notHonoured(key, e.Consequence)
	}
	if f, ok := s.fromProblems(key); ok {
		return f
	}
	if d, ok := differences[name]; ok {
		if detail := d.applies(value, s); detail != "" {
			return Finding{Status: Difference, Detail: detail, Link: d.link}
		}
	}
	return Finding{Status: Honoured}
}

// fromProblems answers an implemented annotation that Weir reported a
// problem on.
func (s *subject) fromProblems(key string) (Finding, bool) {
	ps := s.problems[key]
	if len(ps) == 0 {
		return Finding{}, false
	}
	switch ps[0].Reason {
	case annotations.ReasonCanaryAnnotationsWithoutFlag, annotations.ReasonCanaryValueAndPattern:
		// ingress-nginx reads these the same way.
		return Finding{Status: NoOp, Detail: ps[0].Message + ", as in ingress-nginx"}, true
	}
	return s.notHonoured(key, ps[0].Message), true
}

// notHonoured says what happens to the Ingress without the annotation's
// effect. When the annotation makes Weir deny or drop the Ingress (it fails
// closed), that is the consequence; otherwise fallback.
func (s *subject) notHonoured(key, fallback string) Finding {
	with := s.parse(s.ing.Annotations)
	without := make(map[string]string, len(s.ing.Annotations))
	for k, v := range s.ing.Annotations {
		if k != key {
			without[k] = v
		}
	}
	wo := s.parse(without)
	switch {
	case with.DropIngress && !wo.DropIngress:
		return Finding{Status: NotHonoured, Detail: "none of the Ingress's paths is served: " + fallback}
	case with.DenyAll && !wo.DenyAll && strings.Contains(fallback, "503"):
		return Finding{Status: NotHonoured, Detail: fallback}
	case with.DenyAll && !wo.DenyAll:
		return Finding{Status: NotHonoured, Detail: "every path of the Ingress answers 503: Weir fails closed on what it cannot enforce (" + fallback + ")"}
	}
	return Finding{Status: NotHonoured, Detail: fallback}
}
