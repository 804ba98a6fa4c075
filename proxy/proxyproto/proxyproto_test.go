package proxyproto

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func v2(cmd, fam byte, addrs []byte) []byte {
	b := append([]byte{}, v2Signature...)
	b = append(b, 0x20|cmd, fam, 0, 0)
	binary.BigEndian.PutUint16(b[14:], uint16(len(addrs)))
	return append(b, addrs...)
}

func v2TCP4(src, dst string, sport, dport uint16) []byte {
	a := netip.MustParseAddr(src).As4()
	d := netip.MustParseAddr(dst).As4()
	body := append(append(a[:], d[:]...), byte(sport>>8), byte(sport), byte(dport>>8), byte(dport))
	return v2(1, 0x11, append(body, 0x04, 0, 1, 'x')) // a TLV after the addresses is skipped
}

func TestRead(t *testing.T) {
	six := netip.MustParseAddr("2001:db8::1").As16()
	cases := []struct {
		name, in string
		src      string // "" for a header naming no client
		err      bool
	}{
		{name: "v1 tcp4", in: "PROXY TCP4 203.0.113.7 10.0.0.1 51234 80\r\n", src: "203.0.113.7:51234"},
		{name: "v1 tcp6", in: "PROXY TCP6 2001:db8::1 2001:db8::2 1 443\r\n", src: "[2001:db8::1]:1"},
		{name: "v1 unknown", in: "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"},
		{name: "v1 bare unknown", in: "PROXY UNKNOWN\r\n"},
		{name: "v2 tcp4", in: string(v2TCP4("198.51.100.9", "10.0.0.1", 40000, 443)), src: "198.51.100.9:40000"},
		{name: "v2 tcp6", in: string(v2(1, 0x21, append(append(six[:], six[:]...), 0, 80, 1, 187))), src: "[2001:db8::1]:80"},
		{name: "v2 local", in: string(v2(0, 0, nil))},
		{name: "v2 unix", in: string(v2(1, 0x31, make([]byte, 216)))},
		{name: "plain http", in: "GET / HTTP/1.1\r\n", err: true},
		{name: "v1 family mismatch", in: "PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n", err: true},
		{name: "v1 bad port", in: "PROXY TCP4 1.2.3.4 5.6.7.8 65536 80\r\n", err: true},
		{name: "v1 leading zero port", in: "PROXY TCP4 1.2.3.4 5.6.7.8 080 80\r\n", err: true},
		{name: "v1 no CR", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", err: true},
		{name: "v1 extra field", in: "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", err: true},
		{name: "v1 too long", in: "PROXY TCP4 " + strings.Repeat("1", 200) + "\r\n", err: true},
		{name: "v1 truncated", in: "PROXY TCP4 1.2.3.4", err: true},
		{name: "v2 short block", in: string(v2(1, 0x11, make([]byte, 8))), err: true},
		{name: "v2 bad version", in: string(append(append([]byte{}, v2Signature...), 0x31, 0x11, 0, 0)), err: true},
		{name: "v2 bad command", in: string(v2(2, 0x11, make([]byte, 12))), err: true},
		{name: "v2 bad family", in: string(v2(1, 0x41, make([]byte, 12))), err: true},
		{name: "v2 too long", in: string(append(append([]byte{}, v2Signature...), 0x21, 0x11, 0xff, 0xff)), err: true},
		{name: "v2 truncated", in: string(v2TCP4("1.2.3.4", "5.6.7.8", 1, 2)[:20]), err: true},
		{name: "bad signature", in: "\r\n\r\nXXXXXXXXXXXXXXXX", err: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := bufio.NewReader(strings.NewReader(tc.in + "GET /"))
			h, err := Read(r)
			if tc.err {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			if tc.src == "" {
				assert.Nil(t, h.TCPAddr())
			} else {
				assert.Equal(t, tc.src, h.TCPAddr().String())
			}
			rest, _ := io.ReadAll(r)
			assert.Equal(t, "GET /", string(rest), "nothing after the header is consumed")
		})
	}
}

// serve accepts one connection on l and reports its remote address and
// the first line it sends.
func serve(t *testing.T, l net.Listener) <-chan [2]string {
	out := make(chan [2]string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			out <- [2]string{"", err.Error()}
			return
		}
		defer c.Close()
		remote := c.RemoteAddr().String()
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			line = "error: " + err.Error()
		}
		out <- [2]string{remote, line}
	}()
	return out
}

func dialSend(t *testing.T, addr string, payload string) net.Conn {
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, err = io.WriteString(c, payload)
	require.NoError(t, err)
	return c
}

func TestListenerLiveToggle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := NewListener(ln)
	defer l.Close()

	got := serve(t, l)
	dialSend(t, ln.Addr().String(), "hello\n")
	r := <-got
	assert.Equal(t, "hello\n", r[1], "off: bytes pass untouched")
	assert.True(t, strings.HasPrefix(r[0], "127.0.0.1:"))

	l.Set(Settings{Enabled: true, Timeout: 10 * time.Second})
	got = serve(t, l)
	dialSend(t, ln.Addr().String(), "PROXY TCP4 203.0.113.7 10.0.0.1 51234 80\r\nhello\n")
	r = <-got
	assert.Equal(t, [2]string{"203.0.113.7:51234", "hello\n"}, r)

	got = serve(t, l)
	dialSend(t, ln.Addr().String(), string(v2TCP4("198.51.100.9", "10.0.0.1", 40000, 443))+"hello\n")
	assert.Equal(t, [2]string{"198.51.100.9:40000", "hello\n"}, <-got)
}

func TestListenerRefusesBadAndLateHeaders(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := NewListener(ln)
	defer l.Close()
	refused := make(chan error, 2)
	l.OnError = func(_ net.Addr, err error) { refused <- err }
	l.Set(Settings{Enabled: true, Timeout: 200 * time.Millisecond})

	got := serve(t, l)
	c := dialSend(t, ln.Addr().String(), "GET / HTTP/1.1\r\n")
	r := <-got
	assert.True(t, strings.HasPrefix(r[0], "127.0.0.1:"), "a refused header leaves the peer's address")
	assert.Contains(t, r[1], "error")
	assert.ErrorIs(t, <-refused, ErrNoHeader)
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, err := c.Read(make([]byte, 1))
	assert.Equal(t, 0, n, "the connection is closed without a byte")
	assert.Error(t, err)

	got = serve(t, l)
	dialSend(t, ln.Addr().String(), "PROXY TCP4") // and then silence
	r = <-got
	assert.Contains(t, r[1], "error")
	var ne net.Error
	require.ErrorAs(t, <-refused, &ne)
	assert.True(t, ne.Timeout())
}
