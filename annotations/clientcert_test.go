package annotations

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClientCertDefaultsAndValues(t *testing.T) {
	c, ps := Parse(ann("auth-tls-secret", "default/ca"))
	assert.Empty(t, ps)
	require.NotNil(t, c.ClientCert)
	assert.Equal(t, ClientCert{SecretNamespace: "default", SecretName: "ca", Verify: "on", Depth: 1}, *c.ClientCert)
	assert.False(t, c.DenyAll)

	c, ps = Parse(ann("auth-tls-secret", "ca", "auth-tls-verify-client", "optional_no_ca", "auth-tls-verify-depth", "3",
		"auth-tls-error-page", "https://example.com/cert", "auth-tls-pass-certificate-to-upstream", "true", "auth-tls-match-cn", "CN=alice"))
	assert.Empty(t, ps)
	cc := c.ClientCert
	assert.Equal(t, []any{"", "ca", "optional_no_ca", 3, "https://example.com/cert", true, "CN=alice"},
		[]any{cc.SecretNamespace, cc.SecretName, cc.Verify, cc.Depth, cc.ErrorPage, cc.PassCertificate, cc.MatchCN.String()})
}

func TestClientCertOffAndWithoutSecret(t *testing.T) {
	c, ps := Parse(ann("auth-tls-secret", "default/ca", "auth-tls-verify-client", "off"))
	assert.Empty(t, ps)
	assert.Nil(t, c.ClientCert, "off asks for no certificate")
	c, _ = Parse(ann("auth-tls-verify-client", "on"))
	assert.Nil(t, c.ClientCert, "without auth-tls-secret the others do nothing")
}

func TestClientCertInvalidValues(t *testing.T) {
	c, ps := Parse(ann("auth-tls-secret", "default/ca", "auth-tls-verify-client", "always", "auth-tls-verify-depth", "0",
		"auth-tls-error-page", "javascript:alert(1)"))
	assert.Equal(t, []string{ReasonInvalidValue, ReasonInvalidValue, ReasonInvalidValue}, reasons(ps))
	assert.False(t, c.DenyAll)
	assert.Equal(t, ClientCert{SecretNamespace: "default", SecretName: "ca", Verify: "on", Depth: 1}, *c.ClientCert)

	for _, a := range [][]string{
		{"auth-tls-secret", "Not A Name"},
		{"auth-tls-secret", "default/ca", "auth-tls-match-cn", "alice"},
		{"auth-tls-secret", "default/ca", "auth-tls-match-cn", "CN=(["},
	} {
		c, ps := Parse(ann(a...))
		assert.True(t, c.DenyAll, "%v closes the Ingress", a)
		assert.Equal(t, []string{ReasonInvalidValue}, reasons(ps), a)
	}
}
