package stream

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// certFor makes a self-signed certificate whose subject is cn (and a SAN
// for each name).
func certFor(t testing.TB, cn string, names ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// clientHello returns the bytes a crypto/tls client sends first for cfg.
func clientHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	c, s := net.Pipe()
	done := make(chan []byte)
	go func() {
		var got []byte
		buf := make([]byte, 64<<10)
		_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
		for {
			n, err := s.Read(buf)
			got = append(got, buf[:n]...)
			// The first flight is one write: stop once a whole hello is in.
			if _, _, herr := ReadHello(bytesReader(got), MaxHello); herr == nil || err != nil {
				break
			}
		}
		s.Close()
		done <- got
	}()
	cl := tls.Client(c, cfg)
	_ = cl.Handshake() // fails when the pipe closes; the hello was written
	c.Close()
	return <-done
}

type byteReader struct{ b []byte }

func bytesReader(b []byte) *byteReader { return &byteReader{b: b} }

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// listen binds a loopback port for a test.
func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return ln
}
