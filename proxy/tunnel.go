package proxy

import (
	"fmt"
	"io"
	"net/http"
	"sync"
)

// tunnel completes a WebSocket (HTTP/1.1 Upgrade) exchange: it writes the
// endpoint's 101 to the client on the hijacked connection, then copies bytes
// both ways until either side closes.
func (s *Server) tunnel(w http.ResponseWriter, resp *http.Response) (int64, error) {
	up, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		resp.Body.Close()
		return 0, fmt.Errorf("switching protocols: endpoint body is not a connection")
	}
	defer up.Close()
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return 0, errClientGone
	}
	defer conn.Close()
	resp.Body = nil
	// resp.Write would add Content-Length: 0; write the head by hand.
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\n")
	for k, vs := range resp.Header {
		for _, v := range vs {
			fmt.Fprintf(brw, "%s: %s\r\n", k, v)
		}
	}
	brw.WriteString("\r\n")
	if err := brw.Flush(); err != nil {
		return 0, errClientGone
	}
	var wg sync.WaitGroup
	var toClient int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() { recover() }()
		toClient, _ = io.Copy(conn, up)
		conn.Close()
	}()
	// Bytes the client sent after its handshake may sit in brw's reader.
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		up.Write(b)
	}
	io.Copy(up, conn)
	up.Close()
	wg.Wait()
	return toClient, nil
}
