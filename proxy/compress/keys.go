package compress

import (
	"fmt"
	"strconv"
	"strings"
)

// Keys are ingress-nginx's ConfigMap keys for compression.
var Keys = []string{"use-gzip", "gzip-level", "gzip-min-length", "gzip-types",
	"enable-brotli", "brotli-level", "brotli-min-length", "brotli-types"}

// FromKeys reads the compression keys of an ingress-nginx ConfigMap's
// data (absent keys take ingress-nginx's defaults: gzip and brotli off,
// levels 1 and 4, minimum lengths 256 and 20, DefaultTypes). Each invalid
// value is an error naming its key, and its default is used.
func FromKeys(data map[string]string) (Config, []error) {
	c := Defaults()
	c.Gzip = false
	var errs []error
	bad := func(key, v, want string) {
		errs = append(errs, fmt.Errorf("%s: %q is not %s", key, v, want))
	}
	boolean := func(key string, dst *bool) {
		if v, ok := data[key]; ok {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				bad(key, v, "true or false")
				return
			}
			*dst = b
		}
	}
	integer := func(key string, lo, hi int64, set func(int64)) {
		if v, ok := data[key]; ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil || n < lo || n > hi {
				bad(key, v, fmt.Sprintf("an integer from %d to %d", lo, hi))
				return
			}
			set(n)
		}
	}
	types := func(key string, dst *[]string) {
		if v, ok := data[key]; ok {
			ts, err := ParseTypes(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", key, err))
				return
			}
			*dst = ts
		}
	}
	boolean("use-gzip", &c.Gzip)
	boolean("enable-brotli", &c.Brotli)
	integer("gzip-level", 1, 9, func(n int64) { c.GzipLevel = int(n) })
	integer("brotli-level", 0, 11, func(n int64) { c.BrotliLevel = int(n) })
	integer("gzip-min-length", 0, MaxMinLength, func(n int64) { c.GzipMinLength = n })
	integer("brotli-min-length", 0, MaxMinLength, func(n int64) { c.BrotliMinLength = n })
	types("gzip-types", &c.GzipTypes)
	types("brotli-types", &c.BrotliTypes)
	return c, errs
}
