package proxy

import (
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"

	"weir.dev/weir/proxy/wire"
)

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
	return wire.HasToken(r.Header["Connection"], "upgrade")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
