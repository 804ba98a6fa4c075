package annotations

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var bodySizeRE = regexp.MustCompile(`^(\d+)([bkmgBKMG]?)$`)

// routing reads the location-level annotations.
func (p *parser) routing(c *Config) {
	c.UseRegex = p.boolean("use-regex", false)
	if v, ok := p.get("rewrite-target"); ok && v != "" {
		switch {
		case strings.ContainsAny(v, "?&=% "):
			p.problem("rewrite-target", ReasonInvalidRewriteTarget, Warning, "%s may not contain ?, &, =, %% or a space; no rewrite", quoteShort(v))
		case !visibleASCII(v) || !(v[0] == '/' || v[0] == '$') || strings.HasPrefix(v, "//"):
			p.problem("rewrite-target", ReasonInvalidRewriteTarget, Warning, "%s is not a path of printable ASCII starting with / or $n; no rewrite", quoteShort(v))
		default:
			c.RewriteTarget = v
		}
	}
	c.XForwardedPrefix = p.wire("x-forwarded-prefix", visibleASCII, "printable ASCII without spaces (a header value)")
	c.AppRoot = p.wire("app-root", validPath, "a path starting with a single /")
	c.SSLRedirect = p.boolean("ssl-redirect", true)
	c.ForceSSLRedirect = p.boolean("force-ssl-redirect", false)
	c.Timeouts = Timeouts{
		Connect: p.seconds("proxy-connect-timeout", 5*time.Second),
		Send:    p.seconds("proxy-send-timeout", 60*time.Second),
		Read:    p.seconds("proxy-read-timeout", 60*time.Second),
	}
	c.ProxyBodySize = p.bodySize()
	c.NextUpstream = p.nextUpstream()
	c.UpstreamVhost = p.wire("upstream-vhost", validHost, "a host name with an optional port")
	c.ServerAlias = p.hostList("server-alias")
}

// hostList reads a comma-separated list of host names; invalid names are
// reported and left out.
func (p *parser) hostList(name string) []string {
	v, ok := p.get(name)
	if !ok {
		return nil
	}
	var out []string
	for _, h := range strings.Split(v, ",") {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case h == "":
		case !validHost(strings.TrimPrefix(h, "*.")) || strings.ContainsAny(h, ":[]"):
			p.problem(name, ReasonInvalidValue, Warning, "%s is not a host name; left out", quoteShort(h))
		default:
			out = append(out, h)
		}
	}
	return out
}

func (p *parser) bodySize() int64 {
	const def = 1 << 20
	v, ok := p.get("proxy-body-size")
	if !ok {
		return def
	}
	m := bodySizeRE.FindStringSubmatch(strings.TrimSpace(v))
	if m == nil {
		p.problem("proxy-body-size", ReasonInvalidValue, Warning, "%q is not a size like 8m; using 1m", v)
		return def
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		p.problem("proxy-body-size", ReasonInvalidValue, Warning, "%q is too large; using 1m", v)
		return def
	}
	shift := map[string]uint{"": 0, "b": 0, "k": 10, "m": 20, "g": 30}[strings.ToLower(m[2])]
	if n > (1<<62)>>shift {
		p.problem("proxy-body-size", ReasonInvalidValue, Warning, "%q is too large; using 1m", v)
		return def
	}
	return n << shift
}

var nextUpstreamConditions = map[string]bool{
	"error": true, "timeout": true, "invalid_header": true, "http_500": true, "http_502": true, "http_503": true,
	"http_504": true, "http_403": true, "http_404": true, "http_429": true, "non_idempotent": true, "off": true,
}

func (p *parser) nextUpstream() NextUpstream {
	n := NextUpstream{On: []string{"error", "timeout"}}
	if v, ok := p.get("proxy-next-upstream"); ok {
		var on []string
		valid := true
		for _, f := range strings.Fields(v) {
			if !nextUpstreamConditions[f] {
				valid = false
				break
			}
			if f == "off" {
				on = nil
				break
			}
			on = append(on, f)
		}
		if valid {
			n.On = on
		} else {
			p.problem("proxy-next-upstream", ReasonInvalidValue, Warning, "%q has an unknown condition; using \"error timeout\"", v)
		}
	}
	n.Tries = p.intRange("proxy-next-upstream-tries", 3, 0, MaxTries, ReasonInvalidValue)
	if n.Tries == 0 {
		n.Tries = 3 // nginx: 0 means unlimited; Weir bounds retries
	}
	n.Timeout = p.seconds("proxy-next-upstream-timeout", 0)
	return n
}

// redirects reads permanent-redirect and temporal-redirect (which wins).
func (p *parser) redirects(c *Config) {
	for _, r := range []struct {
		name string
		def  int
	}{{"temporal-redirect", 302}, {"permanent-redirect", 301}} {
		v, ok := p.get(r.name)
		if !ok || v == "" {
			continue
		}
		code := p.integer(r.name+"-code", r.def, 300, ReasonInvalidValue)
		if code > 308 {
			p.problem(r.name+"-code", ReasonInvalidValue, Warning, "%d is not a redirect status; using %d", code, r.def)
			code = r.def
		}
		if !validRedirect(v) {
			p.problem(r.name, ReasonInvalidRedirect, Error, "%s is not an http(s) URL or a path in printable ASCII; the Ingress is not served", quoteShort(v))
			c.DropIngress = true
			return
		}
		c.Redirect = &Redirect{URL: v, Status: code}
		return
	}
}

// sourceRanges reads the allow and deny lists. Any invalid entry closes
// every path of the Ingress (fail closed).
func (p *parser) sourceRanges(c *Config) {
	allowName := "allowlist-source-range"
	if v, ok := p.get(allowName); !ok || strings.TrimSpace(v) == "" {
		allowName = "whitelist-source-range"
	}
	var ok bool
	if c.AllowSourceRange, ok = p.cidrs(allowName); !ok {
		c.DenyAll = true
	}
	if c.DenySourceRange, ok = p.cidrs("denylist-source-range"); !ok {
		c.DenyAll = true
	}
}

func (p *parser) cidrs(name string) ([]netip.Prefix, bool) {
	return p.cidrList(name, ReasonInvalidSourceRange, "every path of the Ingress answers 503")
}

// cidrList reads a comma list of addresses and CIDRs; an invalid entry is an
// Error problem saying consequence, and ok is false.
func (p *parser) cidrList(name, reason, consequence string) (_ []netip.Prefix, ok bool) {
	v, present := p.get(name)
	if !present {
		return nil, true
	}
	var out []netip.Prefix
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		pr, err := parsePrefix(s)
		if err != nil {
			p.problem(name, reason, Error, "%s is not an address or CIDR; %s", quoteShort(s), consequence)
			return nil, false
		}
		out = append(out, pr)
	}
	return out, true
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		pr, err := netip.ParsePrefix(s)
		return UnmapPrefix(pr.Masked()), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return UnmapPrefix(netip.PrefixFrom(a, a.BitLen())), nil
}

// UnmapPrefix writes an IPv4-mapped IPv6 prefix (::ffff:a.b.c.d/96 or
// longer) in its IPv4 form: the proxy unmaps every client address before
// matching, and an IPv6 prefix never contains an IPv4 address.
func UnmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked()
	}
	return p
}
