package proxy

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A client that stops reading its answer (a slow-read attack) loses the
// connection after the send timeout, on the spliced path (plain HTTP/1.1)
// and the copied one (TLS), and the endpoint is not blamed for it: the
// request ends, nothing is ejected and the route keeps serving. Without
// the timeout the request would hold its goroutine and its endpoint
// connection for as long as the client kept the connection open.
func TestClientThatStopsReadingLosesTheConnection(t *testing.T) {
	f := newFront(t, Options{}, ServerOptions{SendTimeout: 300 * time.Millisecond})
	b := newBodyBackend(t)
	f.publish(t, bodyRoute(b, "big.test", 20*time.Second))
	for _, useTLS := range []bool{false, true} {
		var c net.Conn
		if useTLS {
			tc, err := tls.Dial("tcp", f.tls, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
			require.NoError(t, err)
			c = tc
		} else {
			var err error
			c, err = net.Dial("tcp", f.plain)
			require.NoError(t, err)
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		_, err := io.WriteString(c, "GET /big?67108864 HTTP/1.1\r\nHost: big.test\r\n\r\n")
		require.NoError(t, err)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err, "TLS %v", useTLS)
		_, err = io.ReadFull(resp.Body, make([]byte, 1<<20))
		require.NoError(t, err)
		// The client now reads nothing more but keeps the connection.
		require.Eventually(t, func() bool { return inFlight(f.srv) == 0 }, 20*time.Second, 10*time.Millisecond,
			"TLS %v: the request still holds on to a client that reads nothing", useTLS)
		// What the kernel had taken is still readable, then the end.
		n, _ := io.Copy(io.Discard, resp.Body)
		assert.Less(t, n, int64(64<<20-1<<20), "TLS %v: the whole body went out", useTLS)
		c.Close()
		assert.Empty(t, f.ejected(), "TLS %v: the endpoint was blamed for the client", useTLS)
	}
	out, _ := rawExchange(t, f.plain, "GET /big?10 HTTP/1.1\r\nHost: big.test\r\nConnection: close\r\n\r\n")
	assert.Contains(t, out, "HTTP/1.1 200 ")
}
