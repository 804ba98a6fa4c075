package stream

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tlsBackend serves HTTP over TLS with its own certificate (CN backend),
// answering "backend <SNI>".
func tlsBackend(t *testing.T) string {
	t.Helper()
	ln := tls.NewListener(listen(t), &tls.Config{Certificates: []tls.Certificate{certFor(t, "backend")}})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "backend "+r.TLS.ServerName)
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// frontend is Weir's HTTPS port in miniature: the passthrough listener in
// front of a TLS server with its own certificate (CN weir).
func frontend(t *testing.T, opts Options) (*Listener, string) {
	t.Helper()
	pl := NewListener(listen(t), opts)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "weir "+r.TLS.ServerName)
	}), TLSConfig: &tls.Config{Certificates: []tls.Certificate{certFor(t, "weir")}}, ReadHeaderTimeout: 10 * time.Second}
	go srv.ServeTLS(pl, "", "")
	t.Cleanup(func() { srv.Close(); pl.Close() })
	return pl, pl.Addr().String()
}

// get connects with SNI name and returns the certificate's CN and the body.
func get(t *testing.T, addr, name string) (string, string) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{ServerName: name, InsecureSkipVerify: true})
	require.NoError(t, err, name)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName
	_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+name+"\r\nConnection: close\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return cn, string(body)
}

// On one port, a passed-through host reaches the backend's own TLS (its
// certificate, its answer), every other host Weir's; exact before
// wildcard; a dead endpoint is stepped over.
func TestPassthroughBySNI(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	backend := tlsBackend(t)
	deadLn := listen(t)
	dead := deadLn.Addr().String()
	deadLn.Close() // nothing listens there any more: connections are refused
	pl, addr := frontend(t, Options{Metrics: m})
	pl.SetRoutes(NewRoutes(map[string]*Target{
		"pass.test":       {Name: "default/vault:443", Addrs: []string{dead, backend}},
		"*.wild.test":     {Name: "default/vault:443", Addrs: []string{backend}},
		"exact.wild.test": nil,
	}))

	for i := 0; i < 4; i++ {
		cn, body := get(t, addr, "pass.test")
		assert.Equal(t, "backend", cn)
		assert.Equal(t, "backend pass.test", body)
	}
	cn, body := get(t, addr, "a.wild.test")
	assert.Equal(t, "backend", cn)
	assert.Equal(t, "backend a.wild.test", body)
	for _, name := range []string{"other.test", "a.b.wild.test", "wild.test", ""} {
		cn, body = get(t, addr, name)
		assert.Equal(t, "weir", cn, name)
		assert.Equal(t, "weir "+name, body, name)
	}
	assert.Equal(t, 5.0, count(m, passthroughLabel, resultProxied))
	assert.Equal(t, 4.0, count(m, passthroughLabel, resultTerminated))
}

// A malformed or stalled ClientHello closes only its own connection: the
// listener goes on serving others meanwhile. Plain HTTP on the port still
// gets the TLS server's own answer (the bytes read are replayed).
func TestPassthroughRefusesBadHellos(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	backend := tlsBackend(t)
	pl, addr := frontend(t, Options{Metrics: m, HelloTimeout: 300 * time.Millisecond})
	pl.SetRoutes(NewRoutes(map[string]*Target{"pass.test": {Addrs: []string{backend}}}))

	stalled, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer stalled.Close()
	_, err = stalled.Write([]byte{typeHandshake, 3, 1, 0x01, 0x00, typeClientHello}) // and nothing more
	require.NoError(t, err)

	cn, _ := get(t, addr, "pass.test")
	assert.Equal(t, "backend", cn, "a stalled hello does not block the listener")

	_ = stalled.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = stalled.Read(make([]byte, 1))
	assert.Error(t, err, "the stalled connection is closed once its hello is late")

	bad, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer bad.Close()
	_, err = bad.Write([]byte{typeHandshake, 3, 1, 0, 4, 2, 0, 0, 0}) // a ServerHello type
	require.NoError(t, err)
	_ = bad.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = bad.Read(make([]byte, 1))
	assert.Error(t, err, "a malformed hello is closed without an answer")
	require.Eventually(t, func() bool {
		return count(m, passthroughLabel, resultRefused) == 2
	}, 10*time.Second, 10*time.Millisecond)

	plain, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer plain.Close()
	_, err = io.WriteString(plain, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	require.NoError(t, err)
	_ = plain.SetReadDeadline(time.Now().Add(30 * time.Second))
	answer, _ := io.ReadAll(plain)
	assert.True(t, strings.HasPrefix(string(answer), "HTTP/1.0 400"), "%q", answer)
}

// Without passthrough hosts the listener hands connections on unread; a
// host added later is passed through for new connections.
func TestPassthroughRoutesChangeLive(t *testing.T) {
	backend := tlsBackend(t)
	pl, addr := frontend(t, Options{})
	cn, _ := get(t, addr, "pass.test")
	assert.Equal(t, "weir", cn)
	pl.SetRoutes(NewRoutes(map[string]*Target{"pass.test": {Addrs: []string{backend}}}))
	cn, _ = get(t, addr, "pass.test")
	assert.Equal(t, "backend", cn)
	pl.SetRoutes(NewRoutes(map[string]*Target{"pass.test": {Name: "none"}}))
	_, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{ServerName: "pass.test", InsecureSkipVerify: true})
	assert.Error(t, err, "a passthrough host without endpoints is closed, never terminated with Weir's certificate")
}

func count(m *Metrics, listener, result string) float64 {
	var d dto.Metric
	_ = m.conns.WithLabelValues(listener, result).Write(&d)
	return d.GetCounter().GetValue()
}
