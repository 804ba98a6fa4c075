package auth

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Digest authentication (RFC 7616 with MD5, as nginx's auth_digest module
// speaks it): users come from an htdigest file ("user:realm:HA1"). Nonces
// are stateless: a timestamp and random bytes signed with a key made at
// start, valid for NonceLifetime; an older one gets a fresh challenge with
// stale=true, which browsers answer without asking the user again.

// NonceLifetime bounds how long a nonce is accepted.
const NonceLifetime = 5 * time.Minute

var nonceKey = func() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}()

// ParseHtdigest reads an htdigest file: "user:realm:HA1" lines, HA1 being
// 32 hex digits; only lines of realm are kept.
func ParseHtdigest(data []byte, realm string) (map[string][]byte, []LineError) {
	users := map[string][]byte{}
	var errs []LineError
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 3 || !validUser(f[0]) {
			errs = append(errs, LineError{Line: i + 1, Err: fmt.Errorf("not user:realm:hash")})
			continue
		}
		ha1, err := hex.DecodeString(f[2])
		if err != nil || len(ha1) != md5.Size {
			errs = append(errs, LineError{Line: i + 1, User: f[0], Err: fmt.Errorf("the hash is not 32 hex digits")})
			continue
		}
		if _, dup := users[f[0]]; f[1] == realm && !dup {
			users[f[0]] = []byte(strings.ToLower(f[2]))
		}
	}
	return users, errs
}

// newNonce returns a signed nonce for now.
func newNonce(now time.Time) string {
	var b [16 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	rand.Read(b[8:16])
	m := hmac.New(sha256.New, nonceKey)
	m.Write(b[:16])
	copy(b[16:], m.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// checkNonce reports whether a nonce is ours and whether it is still fresh.
func checkNonce(nonce string, now time.Time) (ours, fresh bool) {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != 32 {
		return false, false
	}
	m := hmac.New(sha256.New, nonceKey)
	m.Write(b[:16])
	if !hmac.Equal(m.Sum(nil)[:16], b[16:]) {
		return false, false
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(b[:8])))
	return true, now.Sub(issued) < NonceLifetime && !issued.After(now.Add(time.Minute))
}

// digestParams parses the parameters of an "Authorization: Digest ..."
// value (comma-separated name=value or name="quoted value").
func digestParams(v string) (map[string]string, bool) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "Digest") {
		return nil, false
	}
	params := map[string]string{}
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimLeft(rest, ", ") {
		name, after, ok := strings.Cut(rest, "=")
		if !ok {
			return nil, false
		}
		name = strings.ToLower(strings.TrimSpace(name))
		var value string
		if strings.HasPrefix(after, `"`) {
			end := strings.IndexByte(after[1:], '"')
			if end < 0 {
				return nil, false
			}
			value, rest = after[1:1+end], after[2+end:]
		} else {
			value, rest, _ = strings.Cut(after, ",")
			value = strings.TrimSpace(value)
		}
		params[name] = value
	}
	return params, true
}

// allowDigest checks a Digest Authorization header. stale reports a valid
// answer to an expired nonce.
func (b *Basic) allowDigest(r *http.Request, now time.Time) (ok, stale bool) {
	vs := r.Header["Authorization"]
	if len(vs) != 1 {
		return false, false
	}
	p, parsed := digestParams(vs[0])
	if !parsed || p["realm"] != b.realm || (p["algorithm"] != "" && !strings.EqualFold(p["algorithm"], "MD5")) {
		return false, false
	}
	ha1, known := b.digestUsers[p["username"]]
	if !known || p["uri"] != requestURI(r) {
		return false, false
	}
	ha2 := md5hex(r.Method + ":" + p["uri"])
	var want string
	switch p["qop"] {
	case "auth":
		want = md5hex(string(ha1) + ":" + p["nonce"] + ":" + p["nc"] + ":" + p["cnonce"] + ":auth:" + ha2)
	case "":
		want = md5hex(string(ha1) + ":" + p["nonce"] + ":" + ha2)
	default:
		return false, false
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(p["response"]))) != 1 {
		return false, false
	}
	ours, fresh := checkNonce(p["nonce"], now)
	return ours && fresh, ours && !fresh
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// digestChallenge is a WWW-Authenticate value with a new nonce.
func (b *Basic) digestChallenge(stale bool, now time.Time) []string {
	c := `Digest algorithm="MD5", qop="auth", realm="` + b.realm + `", nonce="` + newNonce(now) + `"`
	if stale {
		c += `, stale=true`
	}
	return []string{c}
}
