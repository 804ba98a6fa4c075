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
// registry and parser, so it follows what Weir actually does.
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
		msg := "unknown annotation: it has no effect"
		if ps := s.problems[key]; len(ps) > 0 {
			msg = "unknown annotation: " + ps[0].Message // it may suggest the key meant
		}
		return s.notHonoured(key, msg)
	case s.canary && !e.OnCanary:
		return Finding{Status: NoOp, Detail: "ignored on a canary Ingress, as in ingress-nginx: the main Ingress owns the route"}
	case e.Status == annotations.NoOp:
		return Finding{Status: NoOp, Detail: e.Consequence}
	case !e.Supported && e.FailClosed:
		return Finding{Status: NotHonoured, Detail: "every path of the Ingress answers 503: Weir fails closed on an access restriction it cannot enforce"}
	case !e.Supported:
		return s.notHonoured(key, unsupportedConsequence(name))
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

// consequences of annotations Weir does not implement and that do not make
// it fail closed, by name prefix (the longest prefix wins).
var consequences = map[string]string{
	"auth-":                   "the value is ignored: Weir does not implement this authentication (auth-type, auth-url or auth-tls-secret on the Ingress makes every path answer 503)",
	"enable-cors":             "no CORS headers are added and preflight requests reach the backend: browsers refuse cross-origin calls the backend does not answer itself",
	"cors-":                   "no CORS headers are added",
	"limit-":                  "requests are not rate limited",
	"custom-http-errors":      "backend error responses reach clients unchanged",
	"default-backend":         "a path without endpoints answers 503 instead of this Service's response",
	"service-upstream":        "Weir balances over the Service's endpoints instead of sending to its ClusterIP",
	"proxy-ssl-":              "HTTPS backends are not verified and get no client certificate",
	"ssl-passthrough":         "Weir terminates TLS itself with the host's certificate (or its default one) instead of passing it through",
	"custom-headers":          "the response headers are not added",
	"mirror-":                 "requests are not mirrored",
	"proxy-buffering":         "Weir streams responses without buffering them",
	"proxy-request-buffering": "Weir streams request bodies to the backend without buffering them",
	"proxy-http-version":      "Weir speaks HTTP/1.1 to HTTP backends (HTTP/2 for GRPC and by ALPN for HTTPS)",
	"from-to-www-redirect":    "no redirect between www.host and host: the other name is not served unless a rule names it",
	"preserve-trailing-slash": "the HTTPS redirect does not keep a trailing slash the way ingress-nginx's option does",
	"upstream-hash-by-subset": "the hash picks among all endpoints instead of a subset",
}

func unsupportedConsequence(name string) string {
	best := ""
	for p := range consequences {
		if strings.HasPrefix(name, p) && len(p) > len(best) {
			best = p
		}
	}
	if best == "" {
		return "not implemented: the value is ignored"
	}
	return consequences[best]
}
