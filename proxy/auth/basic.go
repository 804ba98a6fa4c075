package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Basic is HTTP basic authentication against a set of htpasswd users.
type Basic struct {
	users     map[string]Hash
	challenge []string // the WWW-Authenticate value
	desc      string

	// ok remembers credentials that matched recently, so that a browser
	// sending them with every request costs one bcrypt run, not one per
	// request. Keys are SHA-256 digests of "user:password"; bounded.
	mu sync.Mutex
	ok map[[32]byte]struct{}
}

// maxRemembered bounds Basic.ok.
const maxRemembered = 1024

// NewBasic builds a Basic from parsed users and the realm. source names the
// Secret for table dumps.
func NewBasic(users map[string]Hash, realm, source string) *Basic {
	return &Basic{users: users, challenge: []string{`Basic realm="` + realm + `"`},
		desc: source + " users=" + strconv.Itoa(len(users)) + " realm=" + strconv.Quote(realm), ok: map[[32]byte]struct{}{}}
}

// String describes the check for table dumps (never the hashes).
func (b *Basic) String() string { return b.desc }

// Challenge is the WWW-Authenticate value of a 401.
func (b *Basic) Challenge() []string { return b.challenge }

// Allow reports whether the request carries the credentials of a user.
func (b *Basic) Allow(r *http.Request) bool {
	user, password, ok := credentials(r.Header["Authorization"])
	if !ok {
		return false
	}
	h, known := b.users[user]
	if !known {
		return false
	}
	key := sha256.Sum256([]byte(user + ":" + password))
	b.mu.Lock()
	_, seen := b.ok[key]
	b.mu.Unlock()
	if seen {
		return true
	}
	if !h.matches(password) {
		return false
	}
	b.mu.Lock()
	if len(b.ok) >= maxRemembered {
		clear(b.ok)
	}
	b.ok[key] = struct{}{}
	b.mu.Unlock()
	return true
}

// credentials decodes one "Basic base64(user:password)" header value.
func credentials(vs []string) (user, password string, ok bool) {
	if len(vs) != 1 {
		return "", "", false
	}
	scheme, enc, found := strings.Cut(strings.TrimSpace(vs[0]), " ")
	if !found || !strings.EqualFold(scheme, "Basic") {
		return "", "", false
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return "", "", false
	}
	user, password, ok = strings.Cut(string(dec), ":")
	return user, password, ok
}
