package translate_test

import (
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/controller/manifests"
	"weir.dev/weir/controller/translate"
)

// The hosts whose handshakes ask for a client certificate are those of the
// Ingresses with a working auth-tls-secret, not off, not closed ones.
func TestClientCertHosts(t *testing.T) {
	objs, err := manifests.Load("testdata/annotations/auth-tls.in.yaml")
	require.NoError(t, err)
	res := translate.Translate(manifests.Inputs(objs, translate.Options{}), 1)
	var hosts []string
	for h := range res.ClientCertHosts {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	assert.Equal(t, []string{"badmode.example.com", "full.example.com", "mtls.example.com", "noca.example.com"}, hosts)
	assert.NotNil(t, res.ClientCertHosts["mtls.example.com"], "the request names the CA of ca.crt")
	assert.Nil(t, res.ClientCertHosts["noca.example.com"], "optional_no_ca names no CA")
}
