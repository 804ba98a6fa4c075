// Package auth enforces ingress-nginx's authentication annotations: basic
// authentication against htpasswd users (auth-type: basic) and external
// authentication by a subrequest (auth-url). Both are immutable once built
// and shared by every request of the routes that use them.
package auth

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Hash is one user's stored password hash (opaque outside the package).
type Hash struct {
	kind kind
	// value is the whole stored string (bcrypt, MD5-crypt) or the decoded
	// digest ({SHA}, {SSHA}: digest then salt) or the plain password.
	value []byte
	salt  string // MD5-crypt
	magic string // "$apr1$" or "$1$"
}

type kind uint8

const (
	kindBcrypt kind = iota + 1
	kindMD5Crypt
	kindSHA
	kindSSHA
	kindPlain
)

// parseHash recognises the formats nginx's auth_basic_user_file accepts and
// a library (or this package) can check: bcrypt ($2a$, $2b$, $2y$), apr1 and
// MD5-crypt ($apr1$, $1$), {SHA}, {SSHA} and {PLAIN}.
func parseHash(s string) (Hash, error) {
	switch {
	case strings.HasPrefix(s, "$2a$") || strings.HasPrefix(s, "$2b$") || strings.HasPrefix(s, "$2y$"):
		if _, err := bcrypt.Cost([]byte(s)); err != nil {
			return Hash{}, fmt.Errorf("malformed bcrypt hash")
		}
		return Hash{kind: kindBcrypt, value: []byte(s)}, nil
	case strings.HasPrefix(s, "$apr1$") || strings.HasPrefix(s, "$1$"):
		magic := s[:strings.IndexByte(s[1:], '$')+2]
		salt, sum, ok := strings.Cut(s[len(magic):], "$")
		if !ok || len(salt) == 0 || len(salt) > 8 || len(sum) != 22 {
			return Hash{}, fmt.Errorf("malformed %s hash", strings.Trim(magic, "$"))
		}
		return Hash{kind: kindMD5Crypt, value: []byte(s), salt: salt, magic: magic}, nil
	case strings.HasPrefix(s, "{SHA}"):
		d, err := base64.StdEncoding.DecodeString(s[5:])
		if err != nil || len(d) != sha1.Size {
			return Hash{}, fmt.Errorf("malformed {SHA} hash")
		}
		return Hash{kind: kindSHA, value: d}, nil
	case strings.HasPrefix(s, "{SSHA}"):
		d, err := base64.StdEncoding.DecodeString(s[6:])
		if err != nil || len(d) <= sha1.Size {
			return Hash{}, fmt.Errorf("malformed {SSHA} hash")
		}
		return Hash{kind: kindSSHA, value: d}, nil
	case strings.HasPrefix(s, "{PLAIN}"):
		return Hash{kind: kindPlain, value: []byte(s[7:])}, nil
	case strings.HasPrefix(s, "$5$") || strings.HasPrefix(s, "$6$"):
		return Hash{}, fmt.Errorf("SHA-crypt ($5$, $6$) hashes are not supported; use bcrypt (htpasswd -B)")
	}
	return Hash{}, fmt.Errorf("unsupported hash format (DES crypt or unknown); use bcrypt (htpasswd -B)")
}

// matches reports whether password matches the hash, in time independent of
// where a wrong password differs.
func (h Hash) matches(password string) bool {
	switch h.kind {
	case kindBcrypt:
		return bcrypt.CompareHashAndPassword(h.value, []byte(password)) == nil
	case kindMD5Crypt:
		return subtle.ConstantTimeCompare([]byte(md5Crypt(password, h.salt, h.magic)), h.value) == 1
	case kindSHA:
		sum := sha1.Sum([]byte(password))
		return subtle.ConstantTimeCompare(sum[:], h.value) == 1
	case kindSSHA:
		sum := sha1.Sum(append([]byte(password), h.value[sha1.Size:]...))
		return subtle.ConstantTimeCompare(sum[:], h.value[:sha1.Size]) == 1
	case kindPlain:
		return subtle.ConstantTimeCompare([]byte(password), h.value) == 1
	}
	return false
}

// LineError is an htpasswd line that was left out. It never holds the hash.
type LineError struct {
	Line int    // 1-based; 0 for an auth-map key
	User string // "" when the line has no user
	Err  error
}

func (e LineError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("user %q: %v", e.User, e.Err)
	}
	return fmt.Sprintf("line %d: %v", e.Line, e.Err)
}

// ParseHtpasswd reads an htpasswd file (auth-file): "user:hash" lines;
// blank lines and lines starting with # are skipped. Invalid lines are left
// out and reported; the first line of a user wins, as in nginx.
func ParseHtpasswd(data []byte) (map[string]Hash, []LineError) {
	users := map[string]Hash{}
	var errs []LineError
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, stored, ok := strings.Cut(line, ":")
		if !ok || !validUser(user) {
			errs = append(errs, LineError{Line: i + 1, Err: fmt.Errorf("not user:hash")})
			continue
		}
		addUser(users, &errs, i+1, user, stored)
	}
	return users, errs
}

// ParseAuthMap reads an auth-map Secret: each key a user, each value the
// hash.
func ParseAuthMap(data map[string][]byte) (map[string]Hash, []LineError) {
	users := map[string]Hash{}
	var errs []LineError
	for user, stored := range data {
		if !validUser(user) {
			errs = append(errs, LineError{User: user, Err: fmt.Errorf("not a user name")})
			continue
		}
		addUser(users, &errs, 0, user, strings.TrimSpace(string(stored)))
	}
	return users, errs
}

func addUser(users map[string]Hash, errs *[]LineError, line int, user, stored string) {
	if _, dup := users[user]; dup {
		return
	}
	h, err := parseHash(stored)
	if err != nil {
		*errs = append(*errs, LineError{Line: line, User: user, Err: err})
		return
	}
	users[user] = h
}

// validUser reports a user name a Basic credential can carry: no colon, no
// control bytes.
func validUser(u string) bool {
	if u == "" || len(u) > 256 {
		return false
	}
	for i := 0; i < len(u); i++ {
		if u[i] < ' ' || u[i] == ':' || u[i] == 0x7f {
			return false
		}
	}
	return true
}
