package table

import (
	"fmt"
	"sort"
	"strings"
)

// Dump writes a stable, readable listing of the table: hosts in order (exact
// names, then wildcards, then the catch-all), each host's routes in
// precedence order, then every backend. Golden tests compare it as text and
// `weir translate` prints it, so the format changes only on purpose.
func (t *Table) Dump() string {
	var b strings.Builder
	for _, hm := range []*hostMap{&t.exact, &t.wildcard} {
		var names []string
		hm.each(func(n string, _ *hostRoutes) { names = append(names, n) })
		sort.Strings(names)
		for _, n := range names {
			prefix := ""
			if hm == &t.wildcard {
				prefix = "*."
			}
			dumpHost(&b, prefix+n, hm.get(n))
		}
	}
	if t.catchAll != nil {
		dumpHost(&b, "*", t.catchAll)
	}
	if t.def != nil {
		b.WriteString("default\n")
		dumpAction(&b, t.def, "  ")
	} else {
		b.WriteString("default 404\n")
	}
	var bs []*Backend
	for _, be := range t.Backends() {
		if be != nil {
			bs = append(bs, be)
		}
	}
	sort.SliceStable(bs, func(i, j int) bool { return bs[i].Name < bs[j].Name })
	for _, be := range bs {
		dumpBackend(&b, be, t.Endpoints(be))
	}
	return b.String()
}

func dumpHost(b *strings.Builder, name string, h *hostRoutes) {
	fmt.Fprintf(b, "host %s\n", name)
	for _, r := range h.routes {
		fmt.Fprintf(b, "  %s %s", pathTypeName(r.Path.Type), r.Path.Value)
		if r.Method != "" {
			fmt.Fprintf(b, " method=%s", r.Method)
		}
		for _, hm := range r.Headers {
			fmt.Fprintf(b, " header(%s%s%q)", hm.Name, matchOp(hm.Type), hm.Value)
		}
		for _, q := range r.Query {
			fmt.Fprintf(b, " query(%s%s%q)", q.Name, matchOp(q.Type), q.Value)
		}
		if r.Source.Name != "" {
			fmt.Fprintf(b, " from %s %s/%s", r.Source.Kind, r.Source.Namespace, r.Source.Name)
		}
		b.WriteByte('\n')
		dumpAction(b, r.Action, "    ")
	}
}

func pathTypeName(t PathType) string {
	switch t {
	case PathExact:
		return "exact"
	case PathRegex:
		return "regex"
	case PathRegexFull:
		return "regex-full"
	default:
		return "prefix"
	}
}

func matchOp(t MatchType) string {
	if t == MatchRegex {
		return "~"
	}
	return "="
}

func dumpAction(b *strings.Builder, a *Action, in string) {
	if a.SSLRedirect {
		fmt.Fprintf(b, "%sssl-redirect\n", in)
	}
	if a.HSTS != "" {
		fmt.Fprintf(b, "%shsts %q\n", in, a.HSTS)
	}
	switch {
	case a.Redirect != nil:
		rd := a.Redirect
		if rd.URL != "" {
			fmt.Fprintf(b, "%sredirect %d %s\n", in, rd.Status, rd.URL)
		} else {
			fmt.Fprintf(b, "%sredirect %d scheme=%q host=%q port=%d path=%q prefix=%q\n",
				in, rd.Status, rd.Scheme, rd.Host, rd.Port, rd.Path, rd.PrefixPath)
		}
		return
	case a.Respond != nil:
		fmt.Fprintf(b, "%srespond %d %q\n", in, a.Respond.Status, a.Respond.Body)
		return
	}
	dumpEdits(b, in, "request", a.RequestHeaders)
	dumpEdits(b, in, "response", a.ResponseHeaders)
	if rw := a.Rewrite; rw != nil {
		fmt.Fprintf(b, "%srewrite full=%q prefix=%q target=%q forwarded-prefix=%q\n",
			in, rw.Full, rw.Prefix, rw.Target, rw.ForwardedPrefix)
	}
	if a.HostRewrite != "" {
		fmt.Fprintf(b, "%shost-rewrite %s\n", in, a.HostRewrite)
	}
	for _, p := range a.SourceDeny {
		fmt.Fprintf(b, "%sdeny %s\n", in, p)
	}
	for _, p := range a.SourceAllow {
		fmt.Fprintf(b, "%sallow %s\n", in, p)
	}
	if a.MaxBodyBytes > 0 {
		fmt.Fprintf(b, "%smax-body %d\n", in, a.MaxBodyBytes)
	}
	dumpAccess(b, a, in)
	dumpGateway(b, a, in)
	s := a.Split
	if s.Main != nil {
		fmt.Fprintf(b, "%smain %s\n", in, s.Main.Name)
		if c := s.Canary; c != nil {
			fmt.Fprintf(b, "%scanary %s", in, c.Backend.Name)
			if c.Header != "" {
				fmt.Fprintf(b, " header=%s", c.Header)
				switch {
				case c.HeaderValue != "":
					fmt.Fprintf(b, " value=%q", c.HeaderValue)
				case c.HeaderPattern != nil:
					fmt.Fprintf(b, " pattern=%q", c.HeaderPattern.String())
				}
			}
			if c.Cookie != "" {
				fmt.Fprintf(b, " cookie=%s", c.Cookie)
			}
			fmt.Fprintf(b, " weight=%d/%d", c.Weight, c.WeightTotal)
			if c.Legacy {
				b.WriteString(" affinity=legacy")
			}
			b.WriteByte('\n')
		}
		return
	}
	for _, w := range s.Weighted {
		name := "<none>"
		if w.Backend != nil {
			name = w.Backend.Name
		}
		fmt.Fprintf(b, "%sweighted %d %s\n", in, w.Weight, name)
		if f := w.Filters; f != nil {
			dumpEdits(b, in+"  ", "request", f.RequestHeaders)
			dumpEdits(b, in+"  ", "response", f.ResponseHeaders)
		}
	}
	if len(s.Weighted) == 0 {
		fmt.Fprintf(b, "%sno backend\n", in)
	}
}

func dumpEdits(b *strings.Builder, in, dir string, e HeaderEdits) {
	for _, h := range e.Set {
		fmt.Fprintf(b, "%s%s-header set %s=%q\n", in, dir, h.Name, h.Value)
	}
	for _, h := range e.Add {
		fmt.Fprintf(b, "%s%s-header add %s=%q\n", in, dir, h.Name, h.Value)
	}
	for _, n := range e.Remove {
		fmt.Fprintf(b, "%s%s-header remove %s\n", in, dir, n)
	}
}

func dumpBackend(b *strings.Builder, be *Backend, eps []Endpoint) {
	fmt.Fprintf(b, "backend %s protocol=%s balance=%s", be.Name, be.Protocol, be.Balance.Kind)
	if len(be.Balance.HashKey) > 0 {
		b.WriteString(" hash=")
		for _, p := range be.Balance.HashKey {
			fmt.Fprintf(b, "%s", keyPartString(p))
		}
	}
	if a := be.Balance.Affinity; a != nil {
		fmt.Fprintf(b, " affinity=cookie(%s)", a.CookieName)
	}
	b.WriteByte('\n')
	if be.Problem != "" {
		fmt.Fprintf(b, "  problem %q\n", be.Problem)
	}
	if be.TLS != nil {
		fmt.Fprintf(b, "  tls %s\n", be.TLS.Key)
	}
	t := be.Timeouts
	fmt.Fprintf(b, "  timeouts connect=%s send=%s read=%s\n", t.Connect, t.Send, t.Read)
	if be.Retry.Tries > 0 {
		fmt.Fprintf(b, "  retry tries=%d timeout=%s on=%s\n", be.Retry.Tries, be.Retry.Timeout, retryNames(be.Retry.On))
	}
	if h := be.Health; h.Path != "" {
		fmt.Fprintf(b, "  health path=%s interval=%s timeout=%s rise=%d fall=%d\n", h.Path, h.Interval, h.Timeout, h.Rise, h.Fall)
	}
	if p := be.Passive; p.MaxFails > 0 {
		fmt.Fprintf(b, "  passive max-fails=%d ejection=%s 5xx=%t\n", p.MaxFails, p.Ejection, p.On5xx)
	}
	if be.UnavailableStatus != 0 {
		fmt.Fprintf(b, "  unavailable-status %d\n", be.UnavailableStatus)
	}
	if len(eps) == 0 {
		b.WriteString("  no endpoints\n")
	}
	for _, e := range eps {
		fmt.Fprintf(b, "  endpoint %s", e.Address)
		if e.Terminating {
			b.WriteString(" terminating")
		}
		b.WriteByte('\n')
	}
}

func keyPartString(p KeyPart) string {
	switch p.Kind {
	case KeyRequestURI:
		return "$request_uri"
	case KeyURI:
		return "$uri"
	case KeyRemoteAddr:
		return "$remote_addr"
	case KeyHost:
		return "$host"
	case KeyHeader:
		return "$http_" + p.Name
	case KeyCookie:
		return "$cookie_" + p.Name
	case KeyArg:
		return "$arg_" + p.Name
	default:
		return p.Name
	}
}

var retryOnNames = []string{"error", "timeout", "invalid_header", "http_500", "http_502", "http_503", "http_504",
	"http_403", "http_404", "http_429", "non_idempotent"}

func retryNames(on RetryOn) string {
	var names []string
	for i, n := range retryOnNames {
		if on&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "off"
	}
	return strings.Join(names, ",")
}

func dumpAccess(b *strings.Builder, a *Action, in string) {
	if a.CORS != nil {
		fmt.Fprintf(b, "%scors %s\n", in, a.CORS)
	}
	if a.RateLimit != nil {
		fmt.Fprintf(b, "%slimit %s\n", in, a.RateLimit)
	}
	if a.BasicAuth != nil {
		fmt.Fprintf(b, "%sbasic-auth %s\n", in, a.BasicAuth)
	}
	if a.ExternalAuth != nil {
		fmt.Fprintf(b, "%sexternal-auth %s\n", in, a.ExternalAuth)
	}
	if a.ClientCert != nil {
		fmt.Fprintf(b, "%sclient-cert %s\n", in, a.ClientCert)
	}
	dumpErrorPages(b, a, in)
}
