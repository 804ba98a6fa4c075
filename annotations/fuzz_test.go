package annotations

import (
	"strings"
	"testing"
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
