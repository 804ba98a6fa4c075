package e2e

import (
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// htpasswd lines ({SHA}, htpasswd -s) of alice:secret and alice:other.
const (
	aliceSecret = "alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n"
	aliceOther  = "alice:{SHA}0JQeaNqPOBUf+Gph/Fn3xc+fyqI=\n"
)

// TestBasicAuth: an Ingress with auth-type basic and an Opaque Secret of
// users (as ingress-nginx users create it) answers 401 with a challenge
// without credentials, 200 with them (the backend never sees them), follows
// a password change, and closes its paths (503) when the Secret goes away.
func TestBasicAuth(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	ns := namespace(t, ctx)
	c := client()
	echoApp(t, ctx, ns, "web", 1)
	secrets := env.cluster.Client.CoreV1().Secrets(ns)
	users := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "users", Namespace: ns}, Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{"auth": []byte(aliceSecret)}}
	if _, err := secrets.Create(ctx, users, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	host := "basic." + ns + ".test"
	createIngress(t, ctx, ingress(ns, "web", host, "web", map[string]string{
		canaryPrefix + "auth-type": "basic", canaryPrefix + "auth-secret": "users", canaryPrefix + "auth-realm": "Staff"}))

	waitStatus(t, c, host, http.StatusUnauthorized)
	resp := send(t, c, host, nil)
	if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="Staff"` {
		t.Errorf("WWW-Authenticate = %q, want the realm's Basic challenge", got)
	}
	waitServed(t, c, host, basic("alice", "secret"), "web")
	e, err := get(c, host, "/", basic("alice", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Headers["Authorization"]; ok {
		t.Error("the backend received the Authorization header")
	}
	if e, err := get(c, host, "/", basic("alice", "wrong")); err != nil || e.Status != http.StatusUnauthorized {
		t.Errorf("a wrong password: status %d (%v), want 401", e.Status, err)
	}

	// A password change reaches Weir through its watch of the Secret.
	users.Data["auth"] = []byte(aliceOther)
	if _, err := secrets.Update(ctx, users, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitServed(t, c, host, basic("alice", "other"), "web")
	if e, err := get(c, host, "/", basic("alice", "secret")); err != nil || e.Status != http.StatusUnauthorized {
		t.Errorf("the old password after the change: status %d (%v), want 401", e.Status, err)
	}

	// Without its Secret the Ingress fails closed.
	if err := secrets.Delete(ctx, "users", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, host, http.StatusServiceUnavailable)
	waitEvent(t, ns, "web", "AuthSecretNotFound")
}

// basic is an Authorization header with user:password.
func basic(user, password string) http.Header {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(user, password)
	return http.Header{"Authorization": req.Header["Authorization"]}
}

// send is one GET of host/ through Weir's Service, its body discarded.
func send(t *testing.T, c *http.Client, host string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, env.url+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
