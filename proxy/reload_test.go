package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	weirtls "weir.dev/weir/tls"
)

// reloadable serves "ok" on a loopback socket through a Reloadable, and
// returns it with its address; the test shuts it down.
func reloadable(t *testing.T, opts ServerOptions, tlsOn bool) (*Reloadable, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r := NewReloadable(ln, okServer(opts), ReloadOptions{TLS: tlsOn, Drain: 5 * time.Second})
	done := make(chan error, 1)
	go func() { done <- r.Serve() }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, r.Shutdown(ctx))
		require.ErrorIs(t, <-done, http.ErrServerClosed)
	})
	return r, ln.Addr().String()
}

func okServer(opts ServerOptions) *HTTPServer {
	return NewHTTPServer("", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }), opts, nil)
}

// rawGET sends one request with a header of pad bytes on c and returns the
// status code.
func rawGET(t *testing.T, c net.Conn, br *bufio.Reader, pad int) int {
	t.Helper()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err := fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: a.test\r\nX-Pad: %s\r\n\r\n", strings.Repeat("p", pad))
	require.NoError(t, err)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// A new header limit applies to connections accepted after the change; a
// connection opened before keeps the limit it was accepted with until it
// goes idle after the change's hand-over time, and is then closed.
func TestReplaceAppliesToNewConnections(t *testing.T) {
	for _, server := range []string{HTTP1Weir, HTTP1NetHTTP} {
		t.Run(strings.ReplaceAll(server, "/", "-"), func(t *testing.T) {
			old := ServerOptions{MaxHeaderBytes: 8 << 10, ReadHeaderTimeout: 300 * time.Millisecond, HTTP1: server}
			r, addr := reloadable(t, old, false)
			before, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			defer before.Close()
			bbr := bufio.NewReader(before)
			require.Equal(t, http.StatusOK, rawGET(t, before, bbr, 2000))

			small := old
			small.MaxHeaderBytes = 1 << 10
			r.Replace(okServer(small))

			after, err := net.Dial("tcp", addr)
			require.NoError(t, err)
			defer after.Close()
			require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, rawGET(t, after, bufio.NewReader(after), 2000))
			require.Equal(t, http.StatusOK, rawGET(t, before, bbr, 2000), "the open connection keeps its limit")

			// Idle after the hand-over time: the old generation closes it.
			require.NoError(t, before.SetReadDeadline(time.Now().Add(20*time.Second)))
			_, err = bbr.ReadByte()
			require.ErrorIs(t, err, io.EOF)
		})
	}
}

// Reconfiguring over and over while clients open connection after
// connection refuses none of them and fails no request.
func TestReplaceDropsNoConnection(t *testing.T) {
	opts := ServerOptions{ReadHeaderTimeout: 300 * time.Millisecond}
	r, addr := reloadable(t, opts, false)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	var served [4]int
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c := &http.Client{Transport: &http.Transport{DisableKeepAlives: i%2 == 0}, Timeout: 10 * time.Second}
				resp, err := c.Get("http://" + addr + "/")
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				if err != nil {
					errs <- err
					return
				}
				served[i]++
			}
		}()
	}
	for i := range 40 {
		o := opts
		o.IdleTimeout = time.Duration(60+i) * time.Second
		r.Replace(okServer(o))
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for i, n := range served {
		require.Positive(t, n, "client %d was served", i)
	}
}

// A new TLS minimum version refuses, from the next handshake on, a client
// that was accepted before.
func TestReplaceTLSVersions(t *testing.T) {
	cert, err := weirtls.SelfSigned(time.Now())
	require.NoError(t, err)
	snap, err := weirtls.NewSnapshot(cert, nil)
	require.NoError(t, err)
	store := weirtls.NewStore(snap)
	opts := ServerOptions{TLS: weirtls.ServerConfig(store, weirtls.Options{})}
	r, addr := reloadable(t, opts, true)
	tls12 := &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, ServerName: "a.test"} //nolint:gosec // a self-signed test server
	get := func() error {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: tls12, DisableKeepAlives: true}, Timeout: 10 * time.Second}
		resp, err := c.Get("https://" + addr + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	require.NoError(t, get())
	o := opts
	o.TLS = weirtls.ServerConfig(store, weirtls.Options{MinVersion: tls.VersionTLS13})
	r.Replace(okServer(o))
	require.Error(t, get(), "TLS 1.2 is no longer accepted")
}
