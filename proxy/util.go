package proxy

import (
	"encoding/hex"
	"iter"
	"math/rand/v2"
	"net/http"
	"strings"
)

// commaTokens yields the elements of the comma-separated lists in vals
// (RFC 9110 section 5.6.1), each without the spaces and tabs around it,
// empty elements included: the proxy's one list scanner (Connection,
// Upgrade, X-Forwarded-For), which allocates nothing.
func commaTokens(vals []string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, v := range vals {
			for {
				tok, rest, more := strings.Cut(v, ",")
				if !yield(trimOWS(tok)) {
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

// headerHasToken reports whether token is an element of the lists in vals,
// compared case-insensitively.
func headerHasToken(vals []string, token string) bool {
	for tok := range commaTokens(vals) {
		if strings.EqualFold(tok, token) {
			return true
		}
	}
	return false
}

// newRequestID returns 32 hex digits of randomness, like ingress-nginx's
// $req_id.
func newRequestID() string {
	var b [16]byte
	a, c := rand.Uint64(), rand.Uint64()
	for i := 0; i < 8; i++ {
		b[i] = byte(a >> (8 * i))
		b[8+i] = byte(c >> (8 * i))
	}
	return hex.EncodeToString(b[:])
}

// isWebSocketUpgrade reports a WebSocket handshake: Weir honours no other
// Upgrade (an "h2c" upgrade is refused by forwarding the request without it).
func isWebSocketUpgrade(r *http.Request) bool {
	if r.ProtoMajor != 1 {
		return false
	}
	up := r.Header["Upgrade"]
	if len(up) == 0 || !strings.EqualFold(strings.TrimSpace(up[0]), "websocket") {
		return false
	}
	return headerHasToken(r.Header["Connection"], "upgrade")
}
