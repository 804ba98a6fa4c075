package proxy

import (
	"bufio"
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
		c := f.dial(t, useTLS)
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

// deadlineConn records the read deadlines set on it.
type deadlineConn struct {
	net.Conn
	reads, writes []time.Time
}

func (d *deadlineConn) SetWriteDeadline(t time.Time) error {
	d.writes = append(d.writes, t)
	return nil
}

func (d *deadlineConn) SetReadDeadline(t time.Time) error {
	d.reads = append(d.reads, t)
	return nil
}

// The keep-alive wait's read deadline: set when none is, then left alone
// while it still falls between the timeout and the timeout plus the slack
// from now, and set again once something else moved it.
func TestRecvDeadlineExtend(t *testing.T) {
	const timeout = 32 * time.Second // slack: 1 s
	nc := &deadlineConn{}
	var d recvDeadline
	before := time.Now()
	d.extend(nc, timeout)
	require.Len(t, nc.reads, 1)
	after := time.Now()
	assert.False(t, nc.reads[0].Before(before.Add(timeout)), "never earlier than the timeout")
	assert.False(t, nc.reads[0].After(after.Add(timeout+time.Second)), "at most a second later")
	d.extend(nc, timeout)
	assert.Len(t, nc.reads, 1, "a deadline within the slack is kept")
	d.extend(nc, timeout/2)
	assert.Len(t, nc.reads, 2, "a shorter timeout sets it again")
	d.setElsewhere(nc, time.Time{})
	d.extend(nc, timeout/2)
	assert.Len(t, nc.reads, 4, "a deadline moved by another goroutine is set again")
	d.at = time.Now().Add(timeout - time.Millisecond) // as if set a while ago
	d.extend(nc, timeout)
	assert.Len(t, nc.reads, 5, "a deadline earlier than the timeout is moved on")
}

// The send timeout never cuts a write before it: each write's deadline is
// at least the timeout away, and a busy connection moves it at most once
// per slack. A pinned deadline (the last answer on a closing connection)
// stays.
func TestSendDeadlineIsNeverEarly(t *testing.T) {
	const timeout = 60 * time.Second // slack: 1 s
	nc := &deadlineConn{}
	var d sendDeadline
	for i := 0; i < 100; i++ {
		before := time.Now()
		require.NoError(t, d.refresh(nc, timeout))
		require.NotEmpty(t, nc.writes)
		assert.False(t, nc.writes[len(nc.writes)-1].Before(before.Add(timeout)), "a write's deadline is the timeout away or more")
	}
	assert.Len(t, nc.writes, 1, "100 writes in a row set it once")
	d.at = time.Now().Add(50 * time.Second) // as if set ten seconds ago
	require.NoError(t, d.refresh(nc, timeout))
	assert.Len(t, nc.writes, 2, "with less than the timeout left, it moves")
	pin := time.Now().Add(time.Second)
	d.pin(nc, pin)
	require.NoError(t, d.refresh(nc, timeout))
	assert.Equal(t, []time.Time{pin}, nc.writes[2:], "a pinned deadline stays")
}
