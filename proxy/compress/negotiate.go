package compress

import (
	"strconv"
	"strings"

	"weir.dev/weir/proxy/wire"
)

// Accepted is what a request's Accept-Encoding allows: the q-value of
// gzip and of br (0 refuses; an encoding not listed gets the q-value of
// "*", or 0 without one).
type Accepted struct {
	Gzip, Brotli float64
}

// ParseAcceptEncoding reads Accept-Encoding values (RFC 9110 section
// 12.5.3): comma-separated codings, each with an optional ";q=" weight
// from 0 to 1. "x-gzip" counts as gzip. A malformed weight makes its
// entry count as refused. It does not allocate.
func ParseAcceptEncoding(values []string) Accepted {
	var a Accepted
	star, gz, br := -1.0, -1.0, -1.0
	for item := range wire.Tokens(values) {
		name, params, _ := strings.Cut(item, ";")
		q := weight(params)
		switch name = strings.TrimSpace(name); {
		case strings.EqualFold(name, "gzip"), strings.EqualFold(name, "x-gzip"):
			gz = max(gz, q)
		case strings.EqualFold(name, "br"):
			br = max(br, q)
		case name == "*":
			star = max(star, q)
		}
	}
	if gz < 0 {
		gz = max(star, 0)
	}
	if br < 0 {
		br = max(star, 0)
	}
	a.Gzip, a.Brotli = gz, br
	return a
}

// weight reads the q parameter of a coding (1 when absent, 0 when
// malformed or out of range).
func weight(params string) float64 {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		v = strings.TrimSpace(v)
		if v == "" || len(v) > 5 || (v[0] != '0' && v[0] != '1') {
			return 0
		}
		q, err := strconv.ParseFloat(v, 64)
		if err != nil || q < 0 || q > 1 {
			return 0
		}
		return q
	}
	return 1
}
