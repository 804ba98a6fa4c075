package wire

import (
	"iter"
	"strings"
)

// Tokens yields the elements of the comma-separated lists in vals (RFC 9110
// section 5.6.1), each without the spaces and tabs around it, empty
// elements included: Weir's one list scanner (Connection, Upgrade, Vary,
// Accept-Encoding, X-Forwarded-For...), which allocates nothing.
func Tokens(vals []string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, v := range vals {
			for {
				tok, rest, more := strings.Cut(v, ",")
				if !yield(TrimOWS(tok)) {
					return
				}
				if !more {
					break
				}
				v = rest
			}
		}
	}
}

// HasToken reports whether token is an element of the lists in vals,
// compared case-insensitively.
func HasToken(vals []string, token string) bool {
	for tok := range Tokens(vals) {
		if strings.EqualFold(tok, token) {
			return true
		}
	}
	return false
}

// AddVary returns the values of a Vary field with token added, unless
// they already name it or "*" (RFC 9110 section 12.5.5: the answer varies
// with everything). vals itself is never written to: it may be the
// endpoint's header or a value shared by every response.
func AddVary(vals []string, token string) []string {
	if HasToken(vals, token) || HasToken(vals, "*") {
		return vals
	}
	return append(vals[:len(vals):len(vals)], token)
}
