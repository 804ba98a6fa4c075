package tls

import (
	"crypto/tls"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseCiphers(t *testing.T) {
	// ingress-nginx's default ssl-ciphers: the DHE suites are not Go's.
	def := "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" +
		"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" +
		"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"
	suites, ignored, err := ParseCiphers(def)
	require.NoError(t, err)
	assert.Equal(t, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}, suites)
	assert.Equal(t, []string{"DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384"}, ignored)

	// IANA names, other separators, and TLS 1.3 names (always on in Go).
	suites, ignored, err = ParseCiphers("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256")
	require.NoError(t, err)
	assert.Equal(t, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, suites)
	assert.Empty(t, ignored)

	// Keywords and exclusions leave Go's defaults.
	for _, v := range []string{"", "DEFAULT", "HIGH:!aNULL:!MD5", "ALL:-RC4:@STRENGTH"} {
		suites, ignored, err = ParseCiphers(v)
		require.NoError(t, err, v)
		assert.Nil(t, suites, v)
		assert.Empty(t, ignored, v)
	}

	// Insecure or unimplemented suites are ignored and reported, never offered.
	suites, ignored, err = ParseCiphers("ECDHE-RSA-AES128-GCM-SHA256:DES-CBC3-SHA:ECDHE-RSA-AES256-SHA384")
	require.NoError(t, err)
	assert.Equal(t, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, suites)
	assert.Equal(t, []string{"DES-CBC3-SHA", "ECDHE-RSA-AES256-SHA384"}, ignored)
}

func TestParseCiphersRefusesWhatItCannotHonour(t *testing.T) {
	_, _, err := ParseCiphers("ECDHE-RSA-AES128-GCM-SHA256:NOT-A-SUITE")
	assert.ErrorContains(t, err, `"NOT-A-SUITE" is not a TLS cipher suite name`)
	_, ignored, err := ParseCiphers("DHE-RSA-AES128-GCM-SHA256:DES-CBC3-SHA")
	assert.ErrorContains(t, err, "none of the cipher suites")
	assert.Len(t, ignored, 2)
}

func FuzzParseCiphers(f *testing.F) {
	f.Add("ECDHE-RSA-AES128-GCM-SHA256:!aNULL")
	f.Add("TLS_AES_128_GCM_SHA256,DHE-RSA-AES128-SHA")
	f.Fuzz(func(t *testing.T, v string) {
		suites, _, err := ParseCiphers(v)
		if err != nil {
			return
		}
		// Whatever is returned must be a TLS 1.2 suite Go implements securely.
		ok := map[uint16]bool{}
		for _, s := range tls.CipherSuites() {
			ok[s.ID] = true
		}
		for _, id := range suites {
			if !ok[id] {
				t.Fatalf("%q gave suite %#x", v, id)
			}
		}
	})
}

// proxy-ssl-ciphers reaches the handshake: a TLS 1.2 backend that accepts
// one suite is reached only when the list offers it.
func TestUpstreamCipherSuites(t *testing.T) {
	ca := newTestCA(t)
	cert := ca.parsed(t, leafSpec{names: []string{"backend.internal"}})
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{*cert.TLSCertificate()},
		MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	dial := func(list string) (uint16, error) {
		suites, _, err := ParseCiphers(list)
		require.NoError(t, err)
		cfg, err := UpstreamConfig(UpstreamOptions{CipherSuites: suites})
		require.NoError(t, err)
		c, err := tls.Dial("tcp", l.Addr().String(), cfg)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.ConnectionState().CipherSuite, nil
	}
	_, err = dial("ECDHE-ECDSA-AES128-GCM-SHA256")
	assert.Error(t, err, "the backend's only suite was not offered")
	got, err := dial("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384")
	require.NoError(t, err)
	assert.Equal(t, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, got)
	got, err = dial("DEFAULT")
	require.NoError(t, err, "Go's defaults include the backend's suite")
	assert.Equal(t, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, got)
}
