package proxy

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/proxy/table"
	weirtls "weir.dev/weir/tls"
)

// tcpPair is a connected loopback TCP pair.
func tcpPair(t *testing.T) (client, server net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	server = <-accepted
	require.NotNil(t, server)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// pattern is n bytes that differ with their position, so a byte lost,
// doubled or reordered shows.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// TestH2ConnSendsEveryByteInOrder: small writes gathered and large ones
// sent directly arrive in order, and no write is accepted after Close.
func TestH2ConnSendsEveryByteInOrder(t *testing.T) {
	peer, nc := tcpPair(t)
	c := newH2Conn(nc, time.Minute)
	want := pattern(3 << 20)
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(peer)
		got <- b
	}()
	sizes := []int{1, 9, 4096, 3, 20 << 10, 100, 16 << 10, 70 << 10, 5}
	for off, i := 0, 0; off < len(want); i++ {
		n := min(sizes[i%len(sizes)], len(want)-off)
		w, err := c.Write(want[off : off+n])
		require.NoError(t, err)
		require.Equal(t, n, w)
		off += n
	}
	require.NoError(t, c.Close())
	select {
	case b := <-got:
		assert.True(t, bytes.Equal(want, b), "received %d bytes of %d, in order: %v", len(b), len(want), bytes.Equal(want[:min(len(b), len(want))], b[:min(len(b), len(want))]))
	case <-time.After(30 * time.Second):
		t.Fatal("the peer did not see the end of the stream")
	}
	_, err := c.Write([]byte("x"))
	assert.ErrorIs(t, err, net.ErrClosed, "no write after Close")
}

// gatedConn holds every write until gate is closed.
type gatedConn struct {
	net.Conn
	gate chan struct{}
}

func (g gatedConn) Write(p []byte) (int, error) {
	<-g.gate
	return g.Conn.Write(p)
}

// TestH2ConnCloseSendsPending: bytes gathered while the socket could take
// nothing still reach the peer when the server closes the connection.
func TestH2ConnCloseSendsPending(t *testing.T) {
	defer func(d time.Duration) { h2CloseFlush = d }(h2CloseFlush)
	h2CloseFlush = 30 * time.Second // the bound is not what is tested
	peer, nc := tcpPair(t)
	gate := make(chan struct{})
	c := newH2Conn(gatedConn{nc, gate}, time.Minute)
	want := pattern(50 << 10)
	closing, closed := make(chan struct{}), make(chan error, 1)
	go func() {
		for off := 0; off < len(want); off += 1000 {
			if _, err := c.Write(want[off:min(off+1000, len(want))]); err != nil {
				closed <- err
				return
			}
		}
		close(closing)
		closed <- c.Close()
	}()
	<-closing
	close(gate)
	b, err := io.ReadAll(peer)
	require.NoError(t, err)
	require.NoError(t, <-closed)
	assert.True(t, bytes.Equal(want, b), "%d bytes of %d arrive, in order", len(b), len(want))
}

// TestH2ConnHoldsBackWhenThePeerStopsReading: a client that reads nothing
// holds the server's writes back, as a full socket would (a bounded
// amount is gathered), and the send timeout ends the wait with its error,
// which every later write returns too. The server's own deadline, set and
// cleared around each of its writes, cannot lift it.
func TestH2ConnHoldsBackWhenThePeerStopsReading(t *testing.T) {
	_, nc := tcpPair(t)
	c := newH2Conn(nc, 500*time.Millisecond)
	require.NoError(t, c.SetWriteDeadline(time.Time{}))
	chunk := make([]byte, 1000)
	var err error
	total := 0
	for total < 1<<30 && err == nil {
		var n int
		n, err = c.Write(chunk)
		total += n
	}
	require.Error(t, err, "1 GiB accepted with no reader: nothing holds the writer back")
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	_, err = c.Write(chunk)
	assert.ErrorIs(t, err, os.ErrDeadlineExceeded)
	assert.NoError(t, c.Close())
}

// sizedBackend answers /n/<size> with size pattern bytes.
func sizedBackend(t *testing.T) *table.Backend {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/n/"))
		if err != nil {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		w.Write(pattern(n))
	}))
	t.Cleanup(be.Close)
	return &table.Backend{Name: "sized", Endpoints: []table.Endpoint{{Address: be.Listener.Addr().String()}}}
}

// TestHTTP2ManyStreamsByteExact: many concurrent streams of one HTTP/2
// connection, over TLS and in clear text with prior knowledge (gRPC's
// h2c), with either HTTP/1.x server in front, small and large responses
// mixed (large ones beyond the client's 64 KiB flow-control windows), each
// arrive whole and exact.
func TestHTTP2ManyStreamsByteExact(t *testing.T) {
	for _, server := range []string{HTTP1Weir, HTTP1NetHTTP} {
		t.Run(strings.ReplaceAll(server, "/", ""), func(t *testing.T) { manyStreamsByteExact(t, server) })
	}
}

func manyStreamsByteExact(t *testing.T, server string) {
	f := newFront(t, Options{}, ServerOptions{HTTP1: server})
	f.publish(t, routeTo("a.test", "/", sizedBackend(t)))
	windows := &http.HTTP2Config{MaxReceiveBufferPerConnection: 64 << 10, MaxReceiveBufferPerStream: 64 << 10}
	over := func(p func(*http.Protocols)) *http.Transport {
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, HTTP2: windows, Protocols: new(http.Protocols)}
		p(tr.Protocols)
		return tr
	}
	clients := map[string]struct {
		rt   *http.Transport
		base string
	}{
		"tls": {over(func(p *http.Protocols) { p.SetHTTP2(true) }), "https://" + f.tls},
		"h2c": {over(func(p *http.Protocols) { p.SetUnencryptedHTTP2(true) }), "http://" + f.plain},
	}
	sizes := []int{0, 3, 1000, 20000, 70 << 10, 300 << 10}
	for name, cl := range clients {
		t.Run(name, func(t *testing.T) {
			defer cl.rt.CloseIdleConnections()
			client := &http.Client{Transport: cl.rt, Timeout: 60 * time.Second}
			var wg sync.WaitGroup
			errs := make(chan error, 120)
			for i := range 120 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- fetchExact(client, cl.base, sizes[i%len(sizes)])
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				assert.NoError(t, err)
			}
		})
	}
}

func fetchExact(client *http.Client, base string, n int) error {
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/n/%d", base, n), nil)
	req.Host = "a.test"
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	switch {
	case err != nil:
		return err
	case resp.ProtoMajor != 2 || resp.StatusCode != 200:
		return fmt.Errorf("size %d: %s %s", n, resp.Proto, resp.Status)
	case !bytes.Equal(b, pattern(n)):
		return errors.New("size " + strconv.Itoa(n) + ": body differs")
	}
	return nil
}

// TestHTTP2WithoutTheAES128Suite: an ssl-ciphers list of AES-256-GCM
// suites only (a common hardened nginx setting, accepted by the global
// ConfigMap) made x/net refuse to configure HTTP/2 while ALPN still
// offered h2: every HTTP/2 client, over TLS 1.3 too, lost its connection
// (Weir's HTTP/1.x server) or hung (net/http's). HTTP/2 must keep working.
func TestHTTP2WithoutTheAES128Suite(t *testing.T) {
	for _, server := range []string{HTTP1Weir, HTTP1NetHTTP} {
		t.Run(strings.ReplaceAll(server, "/", ""), func(t *testing.T) {
			f := newFront(t, Options{}, ServerOptions{HTTP1: server})
			f.publish(t, routeTo("a.test", "/", sizedBackend(t)))
			cert, err := weirtls.SelfSigned(time.Now())
			require.NoError(t, err)
			conf := &tls.Config{Certificates: []tls.Certificate{*cert.TLSCertificate()}, NextProtos: []string{"h2", "http/1.1"},
				CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}}
			addr := serveOn(t, NewHTTPServer("", f.srv, ServerOptions{TLS: conf, HTTP1: server}, nil), conf)
			for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
				tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MaxVersion: version}, ForceAttemptHTTP2: true}
				defer tr.CloseIdleConnections()
				assert.NoError(t, fetchExact(&http.Client{Transport: tr, Timeout: 5 * time.Second}, "https://"+addr, 1000), tls.VersionName(version))
			}
		})
	}
}

// An HTTP/2 request, over TLS or in clear text, carries the facts of its
// connection to the endpoint as an HTTP/1.1 one does: the listener's port
// (from the connection's context, which h2Handler must keep), the scheme
// and the client's address; "OPTIONS *" is still answered by Weir itself.
func TestHTTP2RequestsKeepTheirConnectionsFacts(t *testing.T) {
	for _, server := range []string{HTTP1Weir, HTTP1NetHTTP} {
		t.Run(strings.ReplaceAll(server, "/", ""), func(t *testing.T) {
			f := newFront(t, Options{}, ServerOptions{HTTP1: server})
			rec := newRecorder(t)
			f.publish(t, routeTo("a.test", "/", rec.backend("rec")))
			for _, c := range []struct{ scheme, addr string }{{"https", f.tls}, {"http", f.plain}} {
				tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, Protocols: new(http.Protocols)}
				if c.scheme == "https" {
					tr.Protocols.SetHTTP2(true)
				} else {
					tr.Protocols.SetUnencryptedHTTP2(true)
				}
				client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
				req, err := http.NewRequest(http.MethodGet, c.scheme+"://"+c.addr+"/", nil)
				require.NoError(t, err)
				req.Host = "a.test"
				resp, err := client.Do(req)
				require.NoError(t, err, c.scheme)
				resp.Body.Close()
				require.Equal(t, 2, resp.ProtoMajor, c.scheme)
				reqs, _ := rec.requests()
				require.NotEmpty(t, reqs)
				h := reqs[len(reqs)-1].header
				_, port, _ := net.SplitHostPort(c.addr)
				assert.Equal(t, port, h.Get("X-Forwarded-Port"), c.scheme)
				assert.Equal(t, c.scheme, h.Get("X-Forwarded-Proto"))
				assert.Equal(t, "127.0.0.1", h.Get("X-Real-Ip"), c.scheme)

				opts, err := http.NewRequest(http.MethodOptions, c.scheme+"://"+c.addr, nil)
				require.NoError(t, err)
				opts.URL.Opaque, opts.Host = "*", "a.test"
				resp, err = client.Do(opts)
				require.NoError(t, err, c.scheme)
				resp.Body.Close()
				assert.Equal(t, 200, resp.StatusCode, "OPTIONS * over %s", c.scheme)
				after, _ := rec.requests()
				assert.Len(t, after, len(reqs), "OPTIONS * never reaches the endpoint")
				tr.CloseIdleConnections()
			}
		})
	}
}
