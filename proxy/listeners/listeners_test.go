package listeners

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"weir.dev/weir/proxy/table"
	weirtls "weir.dev/weir/tls"
)

// backend answers its name.
func backend(t *testing.T, name string) *table.Backend {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, name) }))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return &table.Backend{Name: name, Endpoints: []table.Endpoint{{Address: u.Host}}}
}

func tableTo(t *testing.T, gen uint64, b *table.Backend) *table.Table {
	t.Helper()
	tb, err := table.New(gen, []*table.Route{{Path: table.PathMatch{Value: "/"}, Action: &table.Action{Split: table.Split{Main: b}},
		Source: table.Source{Kind: "HTTPRoute", Namespace: "default", Name: b.Name}}}, nil)
	require.NoError(t, err)
	return tb
}

// sockets hands out loopback sockets by name, so tests never guess ports.
type sockets map[string]net.Listener

func (s sockets) listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s[addr] = ln
	return ln, nil
}

func newManager(t *testing.T) (*Manager, sockets) {
	t.Helper()
	s := sockets{}
	m := New(Options{Listen: s.listen, DrainPeriod: 2 * time.Second})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = m.Shutdown(ctx)
	})
	return m, s
}

// conn is one keep-alive client connection to a listener.
type conn struct {
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, ln net.Listener) *conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &conn{c: c, r: bufio.NewReader(c)}
}

func (c *conn) get(t *testing.T) string {
	t.Helper()
	require.NoError(t, c.c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err := fmt.Fprintf(c.c, "GET / HTTP/1.1\r\nHost: app.example.com\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(c.r, nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// Two Gateways on the same port are two sockets with two tables; removing
// one closes its socket and leaves the other's open connection alone; a new
// table reaches an open connection's next request.
func TestListenersOpenCloseAndRepublish(t *testing.T) {
	m, socks := newManager(t)
	a, b, c := backend(t, "a"), backend(t, "b"), backend(t, "c")
	errs := m.Apply([]Spec{
		{Key: "gateway default/one port 80", Addr: "one", Table: tableTo(t, 1, a)},
		{Key: "gateway default/two port 80", Addr: "two", Table: tableTo(t, 1, b)},
	})
	require.Empty(t, errs)
	one, two := dial(t, socks["one"]), dial(t, socks["two"])
	assert.Equal(t, "a", one.get(t))
	assert.Equal(t, "b", two.get(t))

	errs = m.Apply([]Spec{{Key: "gateway default/one port 80", Addr: "one", Table: tableTo(t, 2, c)}})
	require.Empty(t, errs)
	assert.Equal(t, "c", one.get(t), "the open connection sees the new table")
	assert.Nil(t, m.Addr("two"))
	_, err := net.DialTimeout("tcp", socks["two"].Addr().String(), time.Second)
	assert.Error(t, err, "the removed listener's socket is closed")
	assert.Equal(t, "c", one.get(t), "the other listener's connection was not touched")
}

// Two specs for one address: the first by key serves, the second is an
// error; a socket that cannot open is an error and is retried next time.
func TestListenersReportAddressProblems(t *testing.T) {
	fail := true
	s := sockets{}
	m := New(Options{Listen: func(addr string) (net.Listener, error) {
		if addr == "busy" && fail {
			return nil, fmt.Errorf("address in use")
		}
		return s.listen(addr)
	}})
	defer m.Shutdown(context.Background())
	a := backend(t, "a")
	specs := []Spec{{Key: "x", Addr: "same", Table: tableTo(t, 1, a)}, {Key: "y", Addr: "same", Table: tableTo(t, 1, a)},
		{Key: "z", Addr: "busy", Table: tableTo(t, 1, a)}}
	errs := m.Apply(specs)
	assert.Len(t, errs, 2)
	assert.ErrorContains(t, errs["y"], "already served by x")
	assert.ErrorContains(t, errs["z"], "address in use")
	fail = false
	errs = m.Apply(specs)
	assert.Len(t, errs, 1)
	assert.NotNil(t, m.Addr("busy"), "opened on the next Apply")
}

// An HTTPS listener serves its own certificates by SNI, and a new snapshot
// takes effect on the next handshake.
func TestHTTPSListenerServesItsCertificates(t *testing.T) {
	m, socks := newManager(t)
	a := backend(t, "a")
	certA := selfSigned(t)
	require.Empty(t, m.Apply([]Spec{{Key: "gw 443", Addr: "tls", TLS: true, Table: tableTo(t, 1, a),
		Certificates: map[string]*weirtls.Certificate{"app.example.com": certA}}}))
	state := handshake(t, socks["tls"].Addr().String())
	assert.Equal(t, certA.Leaf().Raw, state.PeerCertificates[0].Raw)
	assert.Equal(t, "h2", state.NegotiatedProtocol, "HTTP/2 offered as on the Ingress HTTPS port")

	_, err := dialTLS(socks["tls"].Addr().String(), "other.example.com")
	assert.Error(t, err, "no certificate for that name and no default: the handshake fails")

	certB := selfSigned(t)
	require.Empty(t, m.Apply([]Spec{{Key: "gw 443", Addr: "tls", TLS: true, Table: tableTo(t, 2, a),
		Certificates: map[string]*weirtls.Certificate{"app.example.com": certB}, DefaultCertificate: certA}}))
	assert.Equal(t, certB.Leaf().Raw, handshake(t, socks["tls"].Addr().String()).PeerCertificates[0].Raw)
	conn, err := dialTLS(socks["tls"].Addr().String(), "other.example.com")
	require.NoError(t, err)
	defer conn.Close()
	assert.Equal(t, certA.Leaf().Raw, conn.ConnectionState().PeerCertificates[0].Raw, "the default certificate")
}

func dialTLS(addr, name string) (*tls.Conn, error) {
	return tls.Dial("tcp", addr, &tls.Config{ServerName: name, InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
}

func handshake(t *testing.T, addr string) tls.ConnectionState {
	t.Helper()
	conn, err := dialTLS(addr, "app.example.com")
	require.NoError(t, err)
	defer conn.Close()
	return conn.ConnectionState()
}

// SNI follows the Gateway API: exact first, then the longest wildcard,
// which matches any number of labels but not the bare domain.
func TestSNIWithGatewaySemantics(t *testing.T) {
	exact, short, long, def := selfSigned(t), selfSigned(t), selfSigned(t), selfSigned(t)
	x := newSNIIndex(map[string]*weirtls.Certificate{"a.example.com": exact, "*.example.com": short, "*.b.example.com": long}, def)
	for name, want := range map[string]*weirtls.Certificate{
		"a.example.com":      exact,
		"A.Example.COM.":     exact,
		"x.example.com":      short,
		"x.y.example.com":    short,
		"x.b.example.com":    long,
		"x.y.b.example.com":  long,
		"example.com":        def,
		"b.example.com":      short,
		"":                   def,
		"other.test":         def,
		"notexample.com":     def,
		"x.notb.example.com": short,
	} {
		assert.Same(t, want, x.lookup(name), name)
	}
	assert.Nil(t, newSNIIndex(nil, nil).lookup("a.example.com"))
}

func selfSigned(t *testing.T) *weirtls.Certificate {
	t.Helper()
	c, err := weirtls.SelfSigned(time.Now())
	require.NoError(t, err)
	return c
}
