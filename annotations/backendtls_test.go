package annotations

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBackendTLSValues(t *testing.T) {
	c, ps := Parse(nil)
	assert.Empty(t, ps)
	assert.Nil(t, c.BackendTLS, "no proxy-ssl-* annotation: the proxy's default upstream TLS")

	c, ps = Parse(ann("proxy-ssl-secret", "default/backend", "proxy-ssl-verify", "on", "proxy-ssl-verify-depth", "2",
		"proxy-ssl-name", "api.internal", "proxy-ssl-server-name", "on", "proxy-ssl-protocols", "TLSv1.3"))
	assert.Empty(t, ps)
	require.NotNil(t, c.BackendTLS)
	assert.Equal(t, BackendTLS{SecretNamespace: "default", SecretName: "backend", Verify: true, Depth: 2, Name: "api.internal",
		ServerName: true, MinTLS13: true}, *c.BackendTLS)

	c, ps = Parse(ann("proxy-ssl-secret", "backend", "proxy-ssl-protocols", "TLSv1.2 TLSv1.3"))
	assert.Empty(t, ps)
	assert.Equal(t, BackendTLS{SecretName: "backend", Depth: 1}, *c.BackendTLS)
}

func TestBackendTLSInvalidValues(t *testing.T) {
	c, ps := Parse(ann("proxy-ssl-secret", "Bad Name", "proxy-ssl-verify", "on"))
	assert.True(t, c.DenyAll, "verification asked of a Secret that cannot be named closes the Ingress")
	assert.Equal(t, []string{ReasonInvalidValue}, reasons(ps))

	c, ps = Parse(ann("proxy-ssl-verify", "yes please", "proxy-ssl-name", "a b", "proxy-ssl-protocols", "TLSv1.2 QUIC", "proxy-ssl-verify-depth", "-1"))
	assert.False(t, c.DenyAll)
	assert.Len(t, ps, 4)
	assert.Equal(t, BackendTLS{Depth: 1}, *c.BackendTLS)
}
