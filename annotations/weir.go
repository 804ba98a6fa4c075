package annotations

import (
	"strings"
	"time"
)

// WeirPrefix is the prefix of Weir's own annotations, for what ingress-nginx
// has no annotation for.
const WeirPrefix = "weir.dev/"

// HealthCheck is Weir's active health check of a backend's endpoints.
type HealthCheck struct {
	// Path is requested with GET on every endpoint; "" turns checks off.
	Path     string
	Interval time.Duration // default 5s
	Timeout  time.Duration // default 1s
}

var weirEntries = map[string]Entry{
	"health-check-path": {Name: WeirPrefix + "health-check-path", Scope: ScopeUpstream, Risk: RiskLow, Supported: true,
		Doc: "Path Weir requests (GET) on every endpoint of the Ingress's backends; 2xx and 3xx are healthy. Off when unset."},
	"health-check-interval": {Name: WeirPrefix + "health-check-interval", Scope: ScopeUpstream, Risk: RiskLow, Default: "5", Supported: true,
		Doc: "Seconds between active checks (jittered by ±10 %)."},
	"health-check-timeout": {Name: WeirPrefix + "health-check-timeout", Scope: ScopeUpstream, Risk: RiskLow, Default: "1", Supported: true,
		Doc: "Seconds an active check may take."},
}

func (p *parser) weirGet(name string) (string, bool) {
	v, ok := p.ann[WeirPrefix+name]
	return v, ok
}

// health reads the weir.dev/health-check-* annotations.
func (p *parser) health(c *Config) {
	path, ok := p.weirGet("health-check-path")
	if !ok || path == "" {
		return
	}
	if !validPath(path) {
		p.problems = append(p.problems, Problem{Field: WeirPrefix + "health-check-path", Reason: ReasonInvalidValue,
			Severity: Warning, Message: "the path must start with a single / and hold only printable ASCII without spaces; active checks are off"})
		return
	}
	c.HealthCheck = HealthCheck{Path: path,
		Interval: p.weirSeconds("health-check-interval", 5*time.Second),
		Timeout:  p.weirSeconds("health-check-timeout", time.Second)}
}

func (p *parser) weirSeconds(name string, def time.Duration) time.Duration {
	// The nginx-prefixed parser reads whole seconds; reuse it on a shifted
	// map so the rules and messages are the same.
	v, ok := p.weirGet(name)
	if !ok {
		return def
	}
	sub := &parser{ann: map[string]string{Prefix + name: v}}
	d := sub.seconds(name, def)
	if d == 0 {
		d = def
	}
	for _, pr := range sub.problems {
		pr.Field = WeirPrefix + name
		p.problems = append(p.problems, pr)
	}
	return d
}

// checkWeir reports unknown weir.dev annotations.
func (p *parser) checkWeir() {
	for k := range p.ann {
		name, ok := strings.CutPrefix(k, WeirPrefix)
		if !ok {
			continue
		}
		if _, known := weirEntries[name]; !known {
			p.problems = append(p.problems, Problem{Field: k, Reason: ReasonUnknownAnnotation, Severity: Warning,
				Message: "unknown annotation; it has no effect" + suggestion(name, WeirPrefix, weirEntries)})
		}
	}
}
