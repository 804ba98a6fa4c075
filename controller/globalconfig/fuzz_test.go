package globalconfig

import (
	"strings"
	"testing"
)

// FuzzApply feeds arbitrary key=value lines: no panic, and every key that
// was accepted reads back as valid.
func FuzzApply(f *testing.F) {
	f.Add("proxy-body-size=8m\nblock-user-agents=~*bot,curl\nlarge-client-header-buffers=4 8k")
	f.Add("proxy-real-ip-cidr=10.0.0.0/8,::1\nssl-protocols=TLSv1.2 TLSv1.3\ngzip-types=text/*")
	f.Add("keep-alive=75s\nproxy-protocol-header-timeout=500ms\ncustom-http-errors=404,503")
	f.Fuzz(func(t *testing.T, in string) {
		data := map[string]string{}
		for _, line := range strings.Split(in, "\n") {
			k, v, _ := strings.Cut(line, "=")
			data[k] = v
		}
		var tr Tracker
		c, _ := tr.Apply(data)
		for k, v := range tr.good {
			if err := registry[k].Check(v); err != nil {
				t.Fatalf("kept invalid %s=%q: %v", k, v, err)
			}
		}
		var s Start
		c.ApplyStart(&s)
		if len(c.HSTS) > 0 && !strings.HasPrefix(c.HSTS, "max-age=") {
			t.Fatalf("HSTS %q", c.HSTS)
		}
	})
}
