package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"weir.dev/weir/proxy/wire"
)

// tunnel completes a WebSocket (HTTP/1.1 Upgrade) exchange: it writes the
// endpoint's 101 to the client on the hijacked connection, then copies bytes
// both ways until either side closes, or until nothing has moved either way
// for idle (the backend's read timeout, as nginx applies proxy_read_timeout
// to upgraded connections).
func (s *Server) tunnel(w http.ResponseWriter, resp *http.Response, idle time.Duration) (int64, error) {
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
	if err := writeSwitchingHead(brw.Writer, resp.Header); err != nil {
		return 0, errClientGone
	}
	// Closing both ends unblocks both copies.
	timer := time.AfterFunc(idle, func() { conn.Close(); up.Close() })
	defer timer.Stop()
	var wg sync.WaitGroup
	var toClient int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() { recover() }()
		toClient, _ = copyActive(conn, up, timer, idle)
		conn.Close()
	}()
	// Bytes the client sent after its handshake may sit in brw's reader.
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		up.Write(b)
	}
	copyActive(up, conn, timer, idle)
	up.Close()
	wg.Wait()
	return toClient, nil
}

// writeSwitchingHead writes the 101 head by hand (resp.Write would add
// Content-Length: 0); checkResponse has checked every header.
func writeSwitchingHead(bw *bufio.Writer, h http.Header) error {
	bw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	for k, vs := range h {
		for _, v := range vs {
			wire.WriteField(bw, k, v)
		}
	}
	bw.WriteString("\r\n")
	return bw.Flush()
}

// copyActive copies src to dst, pushing the idle timer back after every
// read. Each write must make progress within idle: reads in the other
// direction push the timer back, so a peer that keeps sending but takes
// nothing would otherwise hold the tunnel for good (nginx bounds these
// writes with send_timeout).
func copyActive(dst io.Writer, src io.Reader, timer *time.Timer, idle time.Duration) (int64, error) {
	buf := getBuffer()
	defer putBuffer(buf)
	dl, _ := dst.(interface{ SetWriteDeadline(time.Time) error })
	var total int64
	for {
		n, err := src.Read(*buf)
		if n > 0 {
			timer.Reset(idle)
			if dl != nil {
				dl.SetWriteDeadline(time.Now().Add(idle))
			}
			wn, werr := dst.Write((*buf)[:n])
			total += int64(wn)
			if werr != nil {
				return total, werr
			}
		}
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return total, err
		}
	}
}
