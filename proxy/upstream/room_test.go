package upstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scripted is an endpoint that answers each request it reads with what
// answer writes; answer returns false to close the connection.
func scripted(t *testing.T, answer func(conn, req int, path string, c net.Conn) bool) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := int(conns.Add(1))
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for i := 0; ; i++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if !answer(n, i, req.URL.Path, c) {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// oneConn is an endpoint that takes one connection, reads one request's
// head, calls answer and closes.
func oneConn(t *testing.T, answer func(c net.Conn, req *http.Request)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if req, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
			answer(c, req)
		}
	}()
	return ln.Addr().String()
}

func roomTrip(t *testing.T, cl *Client, addr, method, path string, room *Room) (*http.Response, error) {
	req := &Request{Addr: addr, Method: method, URI: path, Host: "a.test", Room: room}
	resp, err := cl.RoundTrip(context.Background(), req, Timeouts{Connect: 10 * time.Second, Read: 10 * time.Second})
	assert.Nil(t, req.Room, "RoundTrip takes the room")
	return resp, err
}

// TestRoomResponsesStartClean: responses built one after another in one
// room (and its map) carry only their own fields, with interim answers,
// duplicates and more values than the room holds.
func TestRoomResponsesStartClean(t *testing.T) {
	addr := scripted(t, func(_, _ int, path string, c net.Conn) bool {
		var b strings.Builder
		switch path {
		case "/hints":
			b.WriteString("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\nX-Hint: 1\r\n\r\n")
			b.WriteString("HTTP/1.1 200 OK\r\nX-Final: f\r\nContent-Length: 2\r\n\r\nok")
		case "/many":
			b.WriteString("HTTP/1.1 200 OK\r\nX-Dup: a\r\nX-Dup: b\r\n")
			for i := range 12 {
				fmt.Fprintf(&b, "X-F%d: %d\r\n", i, i)
			}
			b.WriteString("Content-Length: 2\r\n\r\nok")
		default:
			b.WriteString("HTTP/1.1 200 OK\r\nX-Only: " + path + "\r\nContent-Length: 2\r\n\r\nok")
		}
		io.WriteString(c, b.String())
		return true
	})
	cl := New(Options{})
	defer cl.CloseIdle(nil)
	room := &Room{Header: make(http.Header)}
	many := http.Header{"X-Dup": {"a", "b"}, "Content-Length": {"2"}}
	for i := range 12 {
		many[fmt.Sprintf("X-F%d", i)] = []string{fmt.Sprint(i)}
	}
	for _, c := range []struct {
		path string
		want http.Header
	}{
		{"/one", http.Header{"X-Only": {"/one"}, "Content-Length": {"2"}}},
		{"/hints", http.Header{"X-Final": {"f"}, "Content-Length": {"2"}}},
		{"/many", many},
		{"/two", http.Header{"X-Only": {"/two"}, "Content-Length": {"2"}}},
	} {
		resp, err := roomTrip(t, cl, addr, http.MethodGet, c.path, room)
		require.NoError(t, err, c.path)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, "ok", string(b), c.path)
		assert.Equal(t, c.want, resp.Header, c.path)
	}
}

// TestRoomMapGrownByAnInterimHeadIsNotKept: an interim head with many
// fields leaves them in the owner's map (which it then drops, since it
// held more than RoomMaxFields) and the final response gets a map of its
// own: an emptied map keeps the size it grew to.
func TestRoomMapGrownByAnInterimHeadIsNotKept(t *testing.T) {
	addr := scripted(t, func(_, _ int, _ string, c net.Conn) bool {
		var b strings.Builder
		b.WriteString("HTTP/1.1 103 Early Hints\r\n")
		for i := range 200 {
			fmt.Fprintf(&b, "X-Hint-%d: v\r\n", i)
		}
		b.WriteString("\r\nHTTP/1.1 200 OK\r\nX-Final: f\r\nContent-Length: 2\r\n\r\nok")
		io.WriteString(c, b.String())
		return true
	})
	cl := New(Options{})
	defer cl.CloseIdle(nil)
	owned := make(http.Header)
	resp, err := roomTrip(t, cl, addr, http.MethodGet, "/", &Room{Header: owned})
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.Header{"X-Final": {"f"}, "Content-Length": {"2"}}, resp.Header)
	assert.Greater(t, len(owned), RoomMaxFields, "the grown map is left with its count, for the owner to drop it")
}

// TestNoResendAfterAnInterimAnswer: an endpoint that answered a request
// with an informational head has it; if it then closes the kept-alive
// connection, the request is not sent again on a new one (a bodiless POST
// would run twice).
func TestNoResendAfterAnInterimAnswer(t *testing.T) {
	var posts atomic.Int32
	addr := scripted(t, func(conn, req int, path string, c net.Conn) bool {
		if path == "/post" {
			posts.Add(1)
		}
		if conn == 1 && req == 1 {
			io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n")
			time.Sleep(10 * time.Millisecond)
			return false // closes after the interim answer
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		return true
	})
	cl := New(Options{})
	defer cl.CloseIdle(nil)
	room := &Room{Header: make(http.Header)}
	resp, err := roomTrip(t, cl, addr, http.MethodGet, "/", room)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_, err = roomTrip(t, cl, addr, http.MethodPost, "/post", room)
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrNoResponse)
	assert.Equal(t, int32(1), posts.Load(), "the POST reached the endpoint once")
}

// TestNoResendOfAnUnsafeMethod: a kept-alive connection that the endpoint
// closes right after reading a bodiless POST looks like one closed while
// idle; the POST may have run, so RoundTrip does not send it again (a GET
// or a DELETE, idempotent, it does: the stale connection's usual case,
// which a backend with one endpoint could not retry elsewhere).
func TestNoResendOfAnUnsafeMethod(t *testing.T) {
	for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
		var seen atomic.Int32
		addr := scripted(t, func(conn, req int, path string, c net.Conn) bool {
			if path == "/act" {
				seen.Add(1)
			}
			if conn == 1 && req == 1 {
				return false // reads the request, then closes without an answer
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			return true
		})
		cl := New(Options{})
		resp, err := roomTrip(t, cl, addr, http.MethodGet, "/", nil)
		require.NoError(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		resp, err = roomTrip(t, cl, addr, method, "/act", nil)
		if method == http.MethodPost {
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrNoResponse)
			assert.Equal(t, int32(1), seen.Load(), "the POST reached the endpoint once")
		} else {
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, int32(2), seen.Load(), "the %s was sent again on a new connection", method)
		}
		cl.CloseIdle(nil)
	}
}

// TestEndlessInterimAnswersAreRefused: an endpoint that sends
// informational heads without end (each would move the read deadline on)
// gets its request failed as a bad response after a few.
func TestEndlessInterimAnswersAreRefused(t *testing.T) {
	addr := scripted(t, func(_, _ int, _ string, c net.Conn) bool {
		for range 50 {
			if _, err := io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"); err != nil {
				return false
			}
			time.Sleep(5 * time.Millisecond)
		}
		return false
	})
	cl := New(Options{})
	defer cl.CloseIdle(nil)
	_, err := roomTrip(t, cl, addr, http.MethodGet, "/", nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrBadResponse)
}

// TestBytesNoRequestAskedForAreNeverAnAnswer: an endpoint that writes more
// after a complete answer (an answer written twice, a body longer than its
// Content-Length in a later segment) has its connection closed before the
// next request: those bytes are never read as the next request's answer,
// however soon the connection is reused.
func TestBytesNoRequestAskedForAreNeverAnAnswer(t *testing.T) {
	addr := scripted(t, func(_, _ int, path string, c net.Conn) bool {
		if path == "/a" {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfor-a")
			time.Sleep(10 * time.Millisecond)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nSet-Cookie: session=A\r\nContent-Length: 6\r\n\r\nmore-a")
			return true
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(path), path)
		return true
	})
	cl := New(Options{})
	defer cl.CloseIdle(nil)
	body := func(path string) (string, http.Header) {
		resp, err := roomTrip(t, cl, addr, http.MethodGet, path, nil)
		require.NoError(t, err, path)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(b), resp.Header
	}
	a, _ := body("/a")
	require.Equal(t, "for-a", a)
	time.Sleep(40 * time.Millisecond) // the stray answer is there; less than IdleCheck
	b, h := body("/b")
	assert.Equal(t, "/b", b)
	assert.Nil(t, h["Set-Cookie"])
}

// TestAnEarlyAnswerToAnUploadIsPassedOn: an endpoint that answers an
// upload before reading it (413 here) and closes makes the rest of the
// body's write fail; its answer is still the request's, and the
// connection is not kept.
func TestAnEarlyAnswerToAnUploadIsPassedOn(t *testing.T) {
	addr := oneConn(t, func(c net.Conn, _ *http.Request) {
		// The head only was read: closing with the body unread, the kernel
		// resets the connection.
		io.WriteString(c, "HTTP/1.1 413 Content Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo large")
	})
	cl := New(Options{})
	defer cl.CloseIdle(nil)
	body := strings.NewReader(strings.Repeat("x", 32<<20))
	req := &Request{Addr: addr, Method: http.MethodPost, URI: "/", Host: "a.test", Body: body, ContentLength: int64(body.Len())}
	resp, err := cl.RoundTrip(context.Background(), req, Timeouts{Connect: 10 * time.Second, Send: 10 * time.Second, Read: 10 * time.Second})
	require.NoError(t, err, "the endpoint's 413 was lost")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	assert.Equal(t, "too large", string(b))
	assert.True(t, resp.Close, "the connection is not kept")
}

// failingBody is a client body that fails after 64 KiB, once the endpoint
// has had time to answer.
type failingBody struct{ n int }

var errClientBody = errors.New("client body: malformed chunk")

func (b *failingBody) Read(p []byte) (int, error) {
	if b.n < 64<<10 {
		k := copy(p, strings.Repeat("x", min(len(p), 64<<10-b.n)))
		b.n += k
		return k, nil
	}
	time.Sleep(300 * time.Millisecond)
	return 0, errClientBody
}

// TestAClientBodyFailureIsNotAnEarlyAnswer: an endpoint that answers as
// soon as it has the head, while the client's body then fails (malformed,
// too large), does not turn the client's failure into a passed-on answer:
// the failure is the request's outcome (the caller answers 400 or 413).
func TestAClientBodyFailureIsNotAnEarlyAnswer(t *testing.T) {
	addr := oneConn(t, func(c net.Conn, req *http.Request) {
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhi\n\r\n")
		io.Copy(io.Discard, req.Body)
		io.WriteString(c, "0\r\n\r\n")
	})
	cl := New(Options{})
	defer cl.CloseIdle(nil)
	req := &Request{Addr: addr, Method: http.MethodPost, URI: "/", Host: "a.test", Body: &failingBody{}, ContentLength: -1}
	resp, err := cl.RoundTrip(context.Background(), req, Timeouts{Connect: 5 * time.Second, Send: 5 * time.Second, Read: 2 * time.Second})
	if err == nil {
		resp.Body.Close()
	}
	require.ErrorIs(t, err, errClientBody)
}
