package auth

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// digestAnswer computes a client's Authorization value for a challenge.
func digestAnswer(user, realm, password, method, uri, nonce, qop string) string {
	ha1 := md5hex(user + ":" + realm + ":" + password)
	ha2 := md5hex(method + ":" + uri)
	if qop == "" {
		return fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s"`,
			user, realm, nonce, uri, md5hex(ha1+":"+nonce+":"+ha2))
	}
	resp := md5hex(ha1 + ":" + nonce + ":00000001:c0ffee:auth:" + ha2)
	return fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=MD5, qop=auth, nc=00000001, cnonce="c0ffee", response="%s"`,
		user, realm, nonce, uri, resp)
}

var nonceRE = regexp.MustCompile(`nonce="([^"]+)"`)

func TestDigest(t *testing.T) {
	htdigest := "bob:Staff:" + md5hex("bob:Staff:secret") + "\nother:Elsewhere:" + md5hex("other:Elsewhere:x") + "\nbad:line\nx:Staff:zz\n"
	users, errs := ParseHtdigest([]byte(htdigest), "Staff")
	require.Len(t, errs, 2)
	require.Len(t, users, 1, "only the Ingress's realm")
	d := NewDigest(users, "Staff", "Secret default/users")

	r := httptest.NewRequest(http.MethodGet, "/a?b=1", nil)
	ok, challenge := d.Check(r)
	require.False(t, ok)
	require.Len(t, challenge, 1)
	assert.Contains(t, challenge[0], `Digest algorithm="MD5", qop="auth", realm="Staff", nonce="`)
	nonce := nonceRE.FindStringSubmatch(challenge[0])[1]

	for _, c := range []struct {
		name, user, pw, method, uri, qop string
		want                             bool
	}{
		{"qop auth", "bob", "secret", "GET", "/a?b=1", "auth", true},
		{"RFC 2069", "bob", "secret", "GET", "/a?b=1", "", true},
		{"wrong password", "bob", "wrong", "GET", "/a?b=1", "auth", false},
		{"other uri", "bob", "secret", "GET", "/admin", "auth", false},
		{"other method", "bob", "secret", "POST", "/a?b=1", "auth", false},
		{"unknown user", "eve", "secret", "GET", "/a?b=1", "auth", false},
	} {
		r.Header.Set("Authorization", digestAnswer(c.user, "Staff", c.pw, c.method, c.uri, nonce, c.qop))
		ok, _ := d.Check(r)
		assert.Equal(t, c.want, ok, c.name)
	}

	r.Header.Set("Authorization", digestAnswer("bob", "Staff", "secret", "GET", "/a?b=1", "forged-nonce", "auth"))
	ok, challenge = d.Check(r)
	assert.False(t, ok)
	assert.NotContains(t, challenge[0], "stale", "a nonce Weir did not make is not stale, it is wrong")

	old := newNonce(time.Now().Add(-NonceLifetime - time.Second))
	r.Header.Set("Authorization", digestAnswer("bob", "Staff", "secret", "GET", "/a?b=1", old, "auth"))
	ok, challenge = d.Check(r)
	assert.False(t, ok)
	assert.Contains(t, challenge[0], "stale=true", "a right answer to an expired nonce gets a new one without asking the user")

	r.Header.Set("Authorization", "Basic Ym9iOnNlY3JldA==")
	ok, _ = d.Check(r)
	assert.False(t, ok, "basic credentials do not pass digest authentication")
}

func FuzzDigestParams(f *testing.F) {
	f.Add(`Digest username="bob", realm="a,b", nonce=x, uri="/", response="00"`)
	f.Add(`Digest a="`)
	f.Add(`Digest =`)
	f.Fuzz(func(t *testing.T, v string) {
		digestParams(v) // never panics
		users := map[string][]byte{"bob": []byte(md5hex("bob:r:p"))}
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", v)
		if ok, _ := NewDigest(users, "r", "").Check(r); ok {
			t.Fatalf("%q passed without a nonce of ours", v)
		}
	})
}
