package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
)

func TestMD5CryptVectors(t *testing.T) {
	// Produced by `openssl passwd -apr1 -salt saltsalt secret` and friends.
	assert.Equal(t, "$apr1$saltsalt$LrttParrLPdxvgutaSXWJ0", md5Crypt("secret", "saltsalt", "$apr1$"))
	assert.Equal(t, "$1$ab$U8jv6p.D2WDJLEY1puNWT1", md5Crypt("pass", "ab", "$1$"))
	assert.Equal(t, "$apr1$x$tMwYqBfQwi3FYAr0aJc8M/", md5Crypt("", "x", "$apr1$"))
}

func htpasswd(t *testing.T) []byte {
	bc, err := bcrypt.GenerateFromPassword([]byte("bcrypt-pw"), bcrypt.MinCost)
	require.NoError(t, err)
	return []byte(strings.Join([]string{
		"# comment",
		"alice:" + string(bc),
		"bob:$apr1$saltsalt$LrttParrLPdxvgutaSXWJ0",
		"carol:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", // "secret"
		"dave:$1$ab$U8jv6p.D2WDJLEY1puNWT1",
		"",
		"erin:abDEFghIJklmn",   // DES crypt: not supported
		"frank:$6$salt$abcdef", // SHA-crypt: not supported
		"no colon here",
		"bob:{PLAIN}other", // a second bob: the first wins
		"gina:{PLAIN}plain\r",
	}, "\n"))
}

func TestParseHtpasswd(t *testing.T) {
	users, errs := ParseHtpasswd(htpasswd(t))
	assert.Len(t, users, 5)
	require.Len(t, errs, 3)
	assert.Equal(t, 7, errs[0].Line)
	assert.Equal(t, "erin", errs[0].User)
	assert.Contains(t, errs[1].Error(), "SHA-crypt")
	assert.Equal(t, "line 9: not user:hash", errs[2].Error())
	for _, e := range errs {
		assert.NotContains(t, e.Error(), "abDEF", "hashes are never reported")
	}
}

func basicRequest(user, pw string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if user != "" {
		r.SetBasicAuth(user, pw)
	}
	return r
}

func TestBasicAllow(t *testing.T) {
	users, _ := ParseHtpasswd(htpasswd(t))
	b := NewBasic(users, "Staff", "Secret default/users")
	for _, c := range []struct {
		user, pw string
		want     bool
	}{
		{"alice", "bcrypt-pw", true}, {"alice", "bcrypt-pw", true}, {"alice", "wrong", false},
		{"bob", "secret", true}, {"bob", "other", false}, {"carol", "secret", true}, {"carol", "Secret", false},
		{"dave", "pass", true}, {"gina", "plain", true}, {"erin", "x", false}, {"nobody", "secret", false}, {"", "", false},
	} {
		assert.Equal(t, c.want, b.Allow(basicRequest(c.user, c.pw)), "%s:%s", c.user, c.pw)
	}
	ok, challenge := b.Check(basicRequest("bob", "wrong"))
	assert.False(t, ok)
	assert.Equal(t, []string{`Basic realm="Staff"`}, challenge)
	assert.Equal(t, `Secret default/users users=5 realm="Staff"`, b.String())

	r := basicRequest("", "")
	r.Header["Authorization"] = []string{"Bearer abc"}
	assert.False(t, b.Allow(r))
	r.Header["Authorization"] = []string{"Basic !!!"}
	assert.False(t, b.Allow(r))
	r.Header["Authorization"] = []string{"basic Ym9iOnNlY3JldA=="} // bob:secret, scheme case-insensitive
	assert.True(t, b.Allow(r))
}

func TestAuthMap(t *testing.T) {
	users, errs := ParseAuthMap(map[string][]byte{"bob": []byte("$apr1$saltsalt$LrttParrLPdxvgutaSXWJ0\n"), "bad:user": []byte("{PLAIN}x"), "eve": []byte("junk")})
	assert.Len(t, users, 1)
	assert.Len(t, errs, 2)
	assert.True(t, NewBasic(users, "", "").Allow(basicRequest("bob", "secret")))
}

func FuzzParseHtpasswd(f *testing.F) {
	f.Add("bob:$apr1$saltsalt$LrttParrLPdxvgutaSXWJ0\nx:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=", "bob", "secret")
	f.Add("a:$2y$04$abcdefghijklmnopqrstuuJkT3zVd7eBYnBHd8bIC2zHp4wYqD9Nu", "a", "b")
	f.Add("a:{SSHA}AAAAAAAAAAAAAAAAAAAAAAAAAAAA\n#c\n\r\n:x", "", "")
	f.Add("a:$1$$", "a", "")
	f.Fuzz(func(t *testing.T, data, user, pw string) {
		users, errs := ParseHtpasswd([]byte(data))
		for u := range users {
			if !validUser(u) {
				t.Fatalf("invalid user %q accepted", u)
			}
		}
		for _, e := range errs {
			if e.Error() == "" {
				t.Fatal("empty error")
			}
		}
		if h, ok := users[user]; ok && h.kind != kindBcrypt {
			h.matches(pw) // never panics
		}
	})
}
