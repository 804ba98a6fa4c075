package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Basic is HTTP basic authentication against a set of htpasswd users, or
// digest authentication against htdigest users (NewDigest).
type Basic struct {
	users       map[string]Hash
	digestUsers map[string][]byte // user to hex HA1; nil for basic
	realm       string
	challenge   []string // the WWW-Authenticate value (basic)
	desc        string

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
	return &Basic{users: users, realm: realm, challenge: []string{`Basic realm="` + realm + `"`},
		desc: source + " users=" + strconv.Itoa(len(users)) + " realm=" + strconv.Quote(realm), ok: map[[32]byte]struct{}{}}
}

// NewDigest builds digest authentication from htdigest users (ParseHtdigest).
func NewDigest(users map[string][]byte, realm, source string) *Basic {
	return &Basic{digestUsers: users, realm: realm,
		desc: "digest " + source + " users=" + strconv.Itoa(len(users)) + " realm=" + strconv.Quote(realm)}
}

// Check reports whether the request carries valid credentials and, when it
// does not, the WWW-Authenticate value of the 401.
func (b *Basic) Check(r *http.Request) (bool, []string) {
	if b.digestUsers == nil {
		if b.Allow(r) {
			return true, nil
		}
		return false, b.challenge
	}
	now := time.Now()
	ok, stale := b.allowDigest(r, now)
	if ok {
		return true, nil
	}
	return false, b.digestChallenge(stale, now)
}

// String describes the check for table dumps (never the hashes).
func (b *Basic) String() string { return b.desc }

// Allow reports whether the request carries the basic credentials of a
// user.
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
