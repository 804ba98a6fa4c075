package proxy

import (
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"strings"
)

func splitComma(s string) []string {
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
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
	for _, v := range r.Header["Connection"] {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return true
			}
		}
	}
	return false
}
