package globalconfig

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"weir.dev/weir/annotations"
	weirtls "weir.dev/weir/tls"
)

// maxSeconds bounds every timeout key (a day), so that no value overflows
// a time.Duration or keeps a connection open for ever.
const maxSeconds = 24 * 60 * 60

func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "on", "yes", "1":
		return true, nil
	case "false", "off", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("%s is not true or false", quote(v))
}

// parseInt reads a base-10 integer in [min, max].
func parseInt(v string, min, max int) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < min || n > max {
		return 0, fmt.Errorf("%s is not a whole number from %d to %d", quote(v), min, max)
	}
	return n, nil
}

// parseSeconds reads an nginx time: whole seconds ("60"), or a number with
// one of nginx's units (ms, s, m, h), up to a day.
func parseSeconds(v string) (time.Duration, error) {
	s := strings.TrimSpace(v)
	unit := time.Second
	for _, u := range []struct {
		suffix string
		d      time.Duration
	}{{"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, unit = n, u.d
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > int64(maxSeconds*time.Second/unit) {
		return 0, fmt.Errorf("%s is not a time such as 60 or 60s (at most a day)", quote(v))
	}
	return time.Duration(n) * unit, nil
}

// parseSize reads an nginx size: bytes, or a number with k or m.
func parseSize(v string) (int, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	mult := 1
	if n, ok := strings.CutSuffix(s, "k"); ok {
		s, mult = n, 1<<10
	} else if n, ok := strings.CutSuffix(s, "m"); ok {
		s, mult = n, 1<<20
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > (16<<20)/mult {
		return 0, fmt.Errorf("%s is not a size such as 8k (at most 16m)", quote(v))
	}
	return n * mult, nil
}

// parseHeaderBuffers reads large-client-header-buffers, "4 8k": the request
// headers may take number x size bytes in all.
func parseHeaderBuffers(v string) (int, error) {
	f := strings.Fields(v)
	if len(f) != 2 {
		return 0, fmt.Errorf("%s is not \"number size\" such as \"4 8k\"", quote(v))
	}
	n, err := parseInt(f[0], 1, 64)
	if err != nil {
		return 0, err
	}
	size, err := parseSize(f[1])
	if err != nil {
		return 0, err
	}
	if n*size > 16<<20 {
		return 0, fmt.Errorf("%s allows more than 16m of headers", quote(v))
	}
	return n * size, nil
}

// parseCIDRs reads a comma-separated list of addresses and prefixes.
func parseCIDRs(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("%s is not an address or CIDR", quote(s))
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%s is not an address or CIDR", quote(s))
		}
		out = append(out, annotations.UnmapPrefix(p.Masked()))
	}
	return out, nil
}

// parsePatterns reads block-user-agents or block-referers: comma-separated
// entries, each exact or "~re" / "~*re".
func parsePatterns(v string) ([]Pattern, error) {
	var out []Pattern
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		re, ok := strings.CutPrefix(s, "~")
		if !ok {
			out = append(out, Pattern{Exact: s})
			continue
		}
		if rest, ok := strings.CutPrefix(re, "*"); ok {
			re = "(?i)" + rest
		}
		if len(re) > 1024 {
			return nil, fmt.Errorf("%s is longer than 1024 bytes", quote(s))
		}
		c, err := regexp.Compile(re)
		if err != nil {
			return nil, fmt.Errorf("%s is not a regular expression Go accepts: %w", quote(s), err)
		}
		out = append(out, Pattern{Re: c})
	}
	return out, nil
}

// parseProtocols reads ssl-protocols ("TLSv1.2 TLSv1.3"): Weir accepts the
// range from the lowest to the highest listed version.
func parseProtocols(v string) (lo, hi uint16, err error) {
	for _, s := range strings.Fields(v) {
		ver, err := weirtls.ParseVersion(s)
		if err != nil {
			return 0, 0, err
		}
		if lo == 0 || ver < lo {
			lo = ver
		}
		hi = max(hi, ver)
	}
	if lo == 0 {
		return 0, 0, errors.New("no TLS version is listed")
	}
	return lo, hi, nil
}

func parseCiphers(v string) (string, error) {
	if _, _, err := weirtls.ParseCiphers(v); err != nil {
		return "", err
	}
	return v, nil
}

// parseStatuses reads custom-http-errors: comma-separated statuses 300-599.
func parseStatuses(v string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(v, ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		n, err := parseInt(s, 300, 599)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// annotationValue checks v as the annotation of the same name would read
// it: a ScopeRoute key is valid exactly when the annotation is.
func annotationValue(name, v string) error {
	_, ps := annotations.Parse(map[string]string{annotations.Prefix + name: v})
	for _, p := range ps {
		return errors.New(p.Message)
	}
	return nil
}

func quote(v string) string {
	if len(v) > 100 {
		return strconv.Quote(v[:100]) + "..."
	}
	return strconv.Quote(v)
}
