package annotations

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// FuzzParse builds annotation maps from fuzz input ("key=value" lines) and
// checks that parsing never panics and every problem names its field and
// reason.
func FuzzParse(f *testing.F) {
	f.Add("canary=true\ncanary-weight=10\ncanary-by-header=X-Canary\ncanary-by-header-pattern=^a")
	f.Add("canary=true\ncanary-weight=999\ncanary-weight-total=0")
	f.Add("use-regex=true\nrewrite-target=/$1\nproxy-body-size=8m")
	f.Add("upstream-hash-by=$http_x${cookie_a}\naffinity=cookie\nsession-cookie-samesite=lax")
	f.Add("allowlist-source-range=10.0.0.0/8,::1\nconfiguration-snippet=x")
	f.Fuzz(func(t *testing.T, in string) {
		m := map[string]string{}
		for _, line := range strings.Split(in, "\n") {
			k, v, _ := strings.Cut(line, "=")
			m[Prefix+k] = v
		}
		for _, parse := range []func(map[string]string) (*Config, []Problem){Parse, ParseCanary} {
			c, ps := parse(m)
			if c == nil {
				t.Fatal("nil config")
			}
			if c.Canary.WeightTotal < 1 || c.Canary.Weight < 0 || c.Canary.Weight > c.Canary.WeightTotal {
				t.Fatalf("weight %d/%d out of range", c.Canary.Weight, c.Canary.WeightTotal)
			}
			for _, p := range ps {
				if p.Field == "" || p.Reason == "" || p.Message == "" {
					t.Fatalf("incomplete problem %+v", p)
				}
			}
		}
	})
}

func FuzzParseHashKey(f *testing.F) {
	for _, s := range []string{"$request_uri", "${http_x}-a", "$", "${", "$arg_", "x$cookie_y$host"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parts, err := ParseHashKey(s)
		if err == nil && len(parts) == 0 {
			t.Fatal("no parts and no error")
		}
	})
}

// FuzzParseWire checks the wire rule on every parsed Config: no string in
// it holds CR, LF, NUL or DEL (every one may end up in a header, a request
// line, a redirect or a cookie), every duration is within its bounds and
// every count is non-negative.
func FuzzParseWire(f *testing.F) {
	f.Add("upstream-vhost", "a\r\nX: y", "x-forwarded-prefix", "/p\n", "proxy-read-timeout", "99999999999999999999")
	f.Add("enable-cors", "true", "cors-allow-origin", "https://*.a.example\r\n", "cors-max-age", "-1")
	f.Add("auth-url", "https://$host/auth", "auth-signin", "https://$host/start?rd=$escaped_request_uri", "auth-response-headers", "X-User\x00")
	f.Add("auth-type", "basic", "auth-secret", "ns/users", "auth-realm", "a\nb")
	f.Add("affinity", "cookie", "session-cookie-path", "/\r", "session-cookie-max-age", "9223372036854775807")
	f.Add("limit-rps", "1073741824", "limit-burst-multiplier", "1000", "limit-allowlist", "10.0.0.0/8")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string) {
		c, _ := Parse(map[string]string{Prefix + k1: v1, Prefix + k2: v2, Prefix + k3: v3, WeirPrefix + k1: v1})
		walkStrings(c, func(path, s string) {
			if strings.ContainsAny(s, "\r\n\x00\x7f") {
				t.Fatalf("%s = %q", path, s)
			}
		})
		checkBounds(t, c)
	})
}

func checkBounds(t *testing.T, c *Config) {
	for name, d := range map[string]time.Duration{"connect": c.Timeouts.Connect, "send": c.Timeouts.Send, "read": c.Timeouts.Read,
		"next-upstream": c.NextUpstream.Timeout, "health-interval": c.HealthCheck.Interval, "health-timeout": c.HealthCheck.Timeout} {
		if d < 0 || d > MaxTimeout {
			t.Fatalf("%s timeout %v out of bounds", name, d)
		}
	}
	if a := c.Affinity; a != nil && (a.MaxAge < 0 || a.MaxAge > MaxCookieAge) {
		t.Fatalf("cookie age %v out of bounds", a.MaxAge)
	}
	if c.NextUpstream.Tries < 1 || c.NextUpstream.Tries > MaxTries || c.ProxyBodySize < 0 {
		t.Fatalf("tries %d, body size %d", c.NextUpstream.Tries, c.ProxyBodySize)
	}
	if r := c.RateLimit; r != nil && (r.RPS < 0 || r.RPM < 0 || r.Connections < 0 || r.RPS > MaxCount || r.BurstMultiplier < 1 || r.BurstMultiplier > 1000) {
		t.Fatalf("rate limit %+v out of bounds", r)
	}
	if cs := c.CORS; cs != nil && (cs.MaxAge < 0 || cs.MaxAge > MaxCount) {
		t.Fatalf("cors max age %d", cs.MaxAge)
	}
}

// walkStrings calls fn with every string reachable from v (fields, slices,
// pointers), named by its path.
func walkStrings(v any, fn func(path, s string)) {
	walkValue(reflect.ValueOf(v), "Config", fn)
}

func walkValue(v reflect.Value, path string, fn func(path, s string)) {
	switch v.Kind() {
	case reflect.String:
		fn(path, v.String())
	case reflect.Pointer:
		if !v.IsNil() && v.Type() != reflect.TypeOf(&regexp.Regexp{}) {
			walkValue(v.Elem(), path, fn)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				walkValue(v.Field(i), path+"."+v.Type().Field(i).Name, fn)
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walkValue(v.Index(i), fmt.Sprintf("%s[%d]", path, i), fn)
		}
	}
}
