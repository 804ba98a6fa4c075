package controller

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"weir.dev/weir/controller/translate"
)

// {SHA} hashes of "secret" and "other" (htpasswd -s).
const (
	aliceLine = "alice:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=\n"
	bobLine   = "bob:{SHA}0JQeaNqPOBUf+Gph/Fn3xc+fyqI=\n"
)

func authSecret(name string, typ corev1.SecretType, users string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Type: typ,
		Data: map[string][]byte{"auth": []byte(users)}}
}

func basicIngress(secret string) map[string]string {
	return map[string]string{"nginx.ingress.kubernetes.io/auth-type": "basic", "nginx.ingress.kubernetes.io/auth-secret": secret}
}

func hasProblem(res *translate.Result, reason string) bool {
	for _, p := range res.Problems {
		if p.Reason == reason {
			return true
		}
	}
	return false
}

func TestBasicAuthReadsOpaqueAndBasicAuthSecretsAndFollowsThem(t *testing.T) {
	ctx := context.Background()
	client, rec, c := start(t, Options{}, class(), service("web"), slice("web", "10.0.0.1"),
		authSecret("users", corev1.SecretTypeOpaque, aliceLine),
		authSecret("typed", corev1.SecretTypeBasicAuth, aliceLine),
		authSecret("unnamed", corev1.SecretTypeOpaque, "carol:x\n"),
		ingress("web", "a.test", "web", basicIngress("users")),
		ingress("typed", "b.test", "web", basicIngress("typed")))
	dumpHas(t, rec, "basic-auth Secret default/users users=1")
	dumpHas(t, rec, "basic-auth Secret default/typed users=1")
	assert.False(t, hasProblem(rec.last(), translate.ReasonAuthSecretNotFound))

	// Only named Secrets keep data; the watch of the others holds metadata.
	cached, err := c.auth.lister.Secrets("default").Get("unnamed")
	require.NoError(t, err)
	assert.Nil(t, cached.Data, "a Secret no Ingress names keeps no data")

	// The Secret changes: the next table has the new users.
	_, err = client.CoreV1().Secrets("default").Update(ctx, authSecret("users", corev1.SecretTypeOpaque, aliceLine+bobLine), metav1.UpdateOptions{})
	require.NoError(t, err)
	dumpHas(t, rec, "basic-auth Secret default/users users=2")

	// The Secret goes away: its Ingress's paths are closed.
	require.NoError(t, client.CoreV1().Secrets("default").Delete(ctx, "users", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool { return hasProblem(rec.last(), translate.ReasonAuthSecretNotFound) }, 10*time.Second, 5*time.Millisecond)
	assert.NotContains(t, rec.last().Table.Dump(), "default/users")
}

func TestBasicAuthSecretCreatedAfterItsIngress(t *testing.T) {
	ctx := context.Background()
	client, rec, _ := start(t, Options{}, class(), service("web"), slice("web", "10.0.0.1"),
		ingress("web", "a.test", "web", basicIngress("late")))
	require.Eventually(t, func() bool { return hasProblem(rec.last(), translate.ReasonAuthSecretNotFound) }, 10*time.Second, 5*time.Millisecond)
	_, err := client.CoreV1().Secrets("default").Create(ctx, authSecret("late", corev1.SecretTypeOpaque, aliceLine), metav1.CreateOptions{})
	require.NoError(t, err)
	dumpHas(t, rec, "basic-auth Secret default/late users=1")
}

func TestSecretRefsStayInTheIngressNamespace(t *testing.T) {
	ing := ingress("web", "a.test", "web", basicIngress("other/users"))
	assert.Empty(t, secretRefs(ing), "a Secret in another namespace is never fetched")
	ing = ingress("web", "a.test", "web", basicIngress("default/users"))
	assert.Equal(t, []string{"default/users"}, secretRefs(ing))
	ing = ingress("web", "a.test", "web", nil)
	assert.Empty(t, secretRefs(ing))
}

func TestStripAllDataKeepsNoCredentials(t *testing.T) {
	s := authSecret("x", corev1.SecretTypeOpaque, aliceLine)
	s.Annotations = map[string]string{corev1.LastAppliedConfigAnnotation: `{"data":{"auth":"..."}}`, "keep": "me"}
	_, err := stripAllData(s)
	require.NoError(t, err)
	assert.Nil(t, s.Data)
	assert.Equal(t, map[string]string{"keep": "me"}, s.Annotations)
	assert.False(t, strings.Contains(s.String(), "SHA"))
}

// selfSignedCA is a CA certificate in PEM (its key is thrown away).
func selfSignedCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestClientCertificateCAFromAnOpaqueSecret(t *testing.T) {
	ca := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "ca", Namespace: "default"}, Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{"ca.crt": selfSignedCA(t)}}
	_, rec, _ := start(t, Options{}, class(), service("web"), slice("web", "10.0.0.1"), ca,
		ingress("web", "a.test", "web", map[string]string{"nginx.ingress.kubernetes.io/auth-tls-secret": "default/ca"}))
	dumpHas(t, rec, "client-cert verify=on depth=1 Secret default/ca")
	assert.Contains(t, rec.last().ClientCertHosts, "a.test")
}
