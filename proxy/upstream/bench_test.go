package upstream

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"weir.dev/weir/proxy/stream/streamtest"
)

// BenchmarkRoundTrip is one small GET and its answer over a kept-alive
// connection to an endpoint on loopback (in this process: its reads and
// writes count too), the client side's CPU and allocations per exchange.
func BenchmarkRoundTrip(b *testing.B) {
	addr := streamtest.ServeTCP(b, func(c net.Conn) {
		br := bufio.NewReader(c)
		for readHead(br) {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
		}
	})
	c := New(Options{})
	defer c.CloseIdle(nil)
	req := &Request{Addr: addr.String(), Method: http.MethodGet, URI: "/", Host: "a.test"}
	to := Timeouts{Connect: 10 * time.Second, Read: time.Minute}
	var buf [16]byte
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.RoundTrip(context.Background(), req, to)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := resp.Body.Read(buf[:]); err != nil {
				break
			}
		}
		resp.Body.Close()
	}
}

// readHead reads one request head; false at the connection's end.
func readHead(br *bufio.Reader) bool {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return false
		}
		if line == "\r\n" {
			return true
		}
	}
}
