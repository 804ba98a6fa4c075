package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/proxy/table"
)

// TestTunnelBytesGoOnceInOrder: bytes a client sends with and after its
// upgrade request, before the endpoint's 101 arrives, reach the endpoint once
// and in order; bytes the endpoint sends with its 101 reach the client once.
func TestTunnelBytesGoOnceInOrder(t *testing.T) {
	for _, h1 := range []string{HTTP1Weir, HTTP1NetHTTP} {
		for _, body := range []string{"", "hello"} {
			t.Run(strings.ReplaceAll(h1, "/", "-")+"/body="+body, func(t *testing.T) {
				got := make(chan string, 1)
				addr := serveConns(t, func(c net.Conn) {
					defer c.Close()
					c.SetDeadline(time.Now().Add(10 * time.Second))
					br := bufio.NewReader(c)
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					b, _ := io.ReadAll(req.Body)
					time.Sleep(300 * time.Millisecond) // the watch reads ahead meanwhile
					io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nFROM-EP")
					buf := make([]byte, 64)
					var all []byte
					all = append(all, b...)
					all = append(all, '|')
					for !strings.HasSuffix(string(all), "END") {
						n, err := br.Read(buf)
						all = append(all, buf[:n]...)
						if err != nil {
							break
						}
					}
					got <- string(all)
					io.WriteString(c, "BYE")
				})
				f := newFront(t, Options{}, ServerOptions{HTTP1: h1})
				f.publish(t, routeTo("a.test", "/", &table.Backend{Name: "ws", Endpoints: []table.Endpoint{{Address: addr}}}))
				head := "GET / HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
				if body != "" {
					head += "Content-Length: 5\r\n"
				}
				c := dialRaw(t, f.plain, head+"\r\n"+body+"AB", 10*time.Second)
				defer c.Close()
				time.Sleep(150 * time.Millisecond)
				io.WriteString(c, "CD")
				time.Sleep(50 * time.Millisecond)
				io.WriteString(c, "EF")
				br := bufio.NewReader(c)
				resp, err := http.ReadResponse(br, nil)
				require.NoError(t, err)
				require.Equal(t, 101, resp.StatusCode)
				io.WriteString(c, "END")
				select {
				case s := <-got:
					assert.Equal(t, body+"|ABCDEFEND", s)
				case <-time.After(5 * time.Second):
					t.Fatal("endpoint never saw END")
				}
				rest, _ := io.ReadAll(br)
				assert.Equal(t, "FROM-EPBYE", string(rest))
			})
		}
	}
}

// TestTunnelClientThatStopsReadingLosesIt: a WebSocket client that keeps
// sending but takes none of what the endpoint sends holds a tunnel, its
// goroutines, buffers and the endpoint's connection; every other write to
// a client is bounded by the send timeout (docs/security.md, "Slow reading
// of the answer"), and nginx bounds an upgraded connection's writes with
// send_timeout. The tunnel must end.
func TestTunnelClientThatStopsReadingLosesIt(t *testing.T) {
	ended := make(chan struct{})
	addr := serveConns(t, func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		go io.Copy(io.Discard, br)
		buf := make([]byte, 64<<10)
		c.SetWriteDeadline(time.Now().Add(20 * time.Second))
		for {
			if _, err := c.Write(buf); err != nil {
				close(ended) // Weir closed the endpoint's connection
				return
			}
		}
	})
	for _, h1 := range []string{HTTP1Weir} {
		f := newFront(t, Options{}, ServerOptions{HTTP1: h1, SendTimeout: 300 * time.Millisecond})
		f.publish(t, routeTo("a.test", "/", &table.Backend{Name: "ws", Endpoints: []table.Endpoint{{Address: addr}},
			Timeouts: table.Timeouts{Read: 300 * time.Millisecond}}))
		c := dialRaw(t, f.plain, "GET / HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 20*time.Second)
		defer c.Close()
		c.(*net.TCPConn).SetReadBuffer(4096)
		deadline := time.After(5 * time.Second)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ended:
				return
			case <-deadline:
				t.Fatal("the tunnel of a client that takes nothing is still open after 5 s (read and send timeouts 300 ms)")
			case <-tick.C:
				c.Write([]byte("x")) // active, but never reads
			}
		}
	}
}
