package tls

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// connStats counts the handlers running for one connection.
type connStats struct {
	cur, max, total atomic.Int64
}

func (s *connStats) enter() {
	s.total.Add(1)
	n := s.cur.Add(1)
	for {
		m := s.max.Load()
		if n <= m || s.max.CompareAndSwap(m, n) {
			return
		}
	}
}

type connStatsKey struct{}

// TestRapidResetDoesNotStarveOthers plays CVE-2023-44487 against a server
// set up with HTTP2Server and ConfigureServer: one client opens streams and
// resets them at once, in a loop, while another client on its own connection
// keeps making requests. The victim's requests must all succeed and no
// connection may ever run more handlers than MaxConcurrentStreams.
//
// The attacked handler holds its slot for a while whatever its context says,
// like a proxy whose upstream is slow to notice a cancellation: that is the
// case the handler bound exists for. Nothing asserts on timing; the attack
// is bounded by a stream count and a deadline.
func TestRapidResetDoesNotStarveOthers(t *testing.T) {
	tests := []struct {
		name string
		// slow is what the attacked handler does; release ends it.
		slow     func(release <-chan struct{})
		maxConns int
		dropped  bool
	}{
		{
			// Handlers that take a while: the server runs at most 128 of
			// them and discards queued streams that were reset, so most
			// reset streams never reach a handler.
			name:     "slow handlers are throttled",
			slow:     func(<-chan struct{}) { time.Sleep(20 * time.Millisecond) },
			maxConns: 1000,
		},
		{
			// Handlers that never finish: the queue passes 4 x 128 and the
			// server drops the connection with ENHANCE_YOUR_CALM. Few
			// connections, as each one strands 128 goroutines until release.
			name:     "stuck handlers get the connection dropped",
			slow:     func(release <-chan struct{}) { <-release },
			maxConns: 4,
			dropped:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testRapidReset(t, tt.slow, tt.maxConns, tt.dropped)
		})
	}
}

func testRapidReset(t *testing.T, slow func(<-chan struct{}), maxConns int, wantDropped bool) {
	const (
		attackStreams  = 20000
		attackDuration = 5 * time.Second
	)
	var (
		mu        sync.Mutex
		allStats  []*connStats
		earlyRSTs atomic.Int64
		release   = make(chan struct{})
	)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := r.Context().Value(connStatsKey{}).(*connStats)
		st.enter()
		defer st.cur.Add(-1)
		if r.URL.Path == "/slow" {
			slow(release)
		}
		w.WriteHeader(http.StatusOK)
	}))
	ts.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		st := &connStats{}
		mu.Lock()
		allStats = append(allStats, st)
		mu.Unlock()
		return context.WithValue(ctx, connStatsKey{}, st)
	}
	ts.Config.ErrorLog = quietLog()
	h2 := HTTP2Server(HTTP2Options{CountError: func(reason string) {
		if reason == "conn_ENHANCE_YOUR_CALM_too_many_early_resets" {
			earlyRSTs.Add(1)
		}
	}})
	require.NoError(t, ConfigureServer(ts.Config, h2))
	ca := newTestCA(t)
	snap, err := NewSnapshot(ca.parsed(t, leafSpec{names: []string{testHost}}), nil)
	require.NoError(t, err)
	ts.TLS = ServerConfig(NewStore(snap), Options{})
	ts.StartTLS()
	// Cleanups run last-in first-out: release stuck handlers, then close.
	t.Cleanup(ts.Close)
	t.Cleanup(func() { close(release) })
	addr := ts.Listener.Addr().String()

	ctx, cancel := context.WithTimeout(context.Background(), attackDuration)
	defer cancel()
	var attack attackResult
	attackDone := make(chan struct{})
	go func() {
		defer close(attackDone)
		attack = rapidReset(ctx, addr, clientConfig(ca, testHost), attackStreams, maxConns)
	}()

	victim := newClient(t, addr, clientConfig(ca, testHost), true)
	var ok, failed int
	var firstErr error
	for running := true; running; {
		select {
		case <-attackDone:
			running = false
		default:
		}
		status, proto, err := victimGet(victim)
		if err != nil || status != http.StatusOK || proto != 2 {
			failed++
			if firstErr == nil {
				firstErr = errors.Join(err, errors.New(http.StatusText(status)))
			}
			continue
		}
		ok++
	}

	require.NoError(t, attack.err)
	assert.Zero(t, failed, "victim requests failed during the attack: %v", firstErr)
	assert.Positive(t, ok)
	assert.GreaterOrEqual(t, attack.streams, 500, "the attack barely ran")
	if wantDropped {
		assert.Contains(t, attack.goaways, http2.ErrCodeEnhanceYourCalm)
		assert.Positive(t, earlyRSTs.Load())
	}

	mu.Lock()
	defer mu.Unlock()
	var peak, ran int64
	for _, st := range allStats {
		peak = max(peak, st.max.Load())
		ran += st.total.Load()
		assert.LessOrEqual(t, st.max.Load(), int64(DefaultMaxConcurrentStreams), "a connection ran more handlers than MaxConcurrentStreams")
	}
	t.Logf("attack: %d streams reset on %d connections, %d handlers ran in all (victim's included); GOAWAY codes %v; too_many_early_resets %d",
		attack.streams, attack.conns, ran, attack.goaways, earlyRSTs.Load())
	t.Logf("victim: %d ok, %d failed; peak handlers on one connection: %d (limit %d)", ok, failed, peak, DefaultMaxConcurrentStreams)
}

func victimGet(c *http.Client) (int, int, error) {
	resp, err := c.Get("https://" + testHost + "/fast")
	if err != nil {
		return 0, 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, resp.ProtoMajor, nil
}

type attackResult struct {
	streams, conns int
	goaways        []http2.ErrCode
	err            error
}

// rapidReset opens and immediately resets streams until it has sent max of
// them or ctx is done, reconnecting (up to maxConns connections in all)
// whenever the server drops it.
func rapidReset(ctx context.Context, addr string, cfg *tls.Config, max, maxConns int) attackResult {
	var res attackResult
	cfg = cfg.Clone()
	cfg.NextProtos = []string{"h2"}
	for res.streams < max && res.conns < maxConns && ctx.Err() == nil {
		n, code, err := resetOneConn(ctx, addr, cfg, max-res.streams)
		res.conns++
		res.streams += n
		if code != nil {
			res.goaways = append(res.goaways, *code)
		}
		if err != nil {
			res.err = err
			return res
		}
	}
	return res
}

// resetOneConn runs the attack on one connection. It returns the streams it
// sent, the GOAWAY code if the server sent one, and an error only for a
// failure to set the connection up (a dropped connection is the expected
// outcome, not an error).
func resetOneConn(ctx context.Context, addr string, cfg *tls.Config, max int) (int, *http2.ErrCode, error) {
	d := tls.Dialer{Config: cfg}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return 0, nil, err
	}
	conn := raw.(*tls.Conn)
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		return 0, nil, errors.New("server did not negotiate h2: " + p)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)

	bw := bufio.NewWriter(conn)
	fr := http2.NewFramer(bw, conn)
	if _, err := bw.WriteString(http2.ClientPreface); err != nil {
		return 0, nil, err
	}
	if err := fr.WriteSettings(); err != nil {
		return 0, nil, err
	}

	var (
		needAck atomic.Bool
		goaway  atomic.Pointer[http2.ErrCode]
		closed  = make(chan struct{})
	)
	go func() {
		defer close(closed)
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					needAck.Store(true)
				}
			case *http2.GoAwayFrame:
				code := f.ErrCode
				goaway.Store(&code)
			}
		}
	}()

	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	sent := 0
	for id := uint32(1); sent < max && ctx.Err() == nil && goaway.Load() == nil; id += 2 {
		select {
		case <-closed:
			return sent, goaway.Load(), nil
		default:
		}
		if needAck.Swap(false) {
			if fr.WriteSettingsAck() != nil {
				break
			}
		}
		hbuf.Reset()
		for _, hf := range []hpack.HeaderField{
			{Name: ":method", Value: "GET"},
			{Name: ":scheme", Value: "https"},
			{Name: ":authority", Value: testHost},
			{Name: ":path", Value: "/slow"},
		} {
			_ = enc.WriteField(hf)
		}
		if fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hbuf.Bytes(), EndStream: true, EndHeaders: true}) != nil ||
			fr.WriteRSTStream(id, http2.ErrCodeCancel) != nil {
			break
		}
		sent++
		// Flush in small batches: fast enough to outrun the handlers, and
		// every stream is still a separate HEADERS + RST_STREAM pair.
		if sent%32 == 0 && bw.Flush() != nil {
			break
		}
	}
	_ = bw.Flush()
	// Half-close and read on, so that a GOAWAY for frames still in flight is
	// seen; the server closes once it reads the end, and the deadline bounds
	// the wait either way.
	_ = conn.CloseWrite()
	<-closed
	return sent, goaway.Load(), nil
}

func TestHTTP2ServerDefaults(t *testing.T) {
	h2 := HTTP2Server(HTTP2Options{})
	assert.Equal(t, uint32(128), h2.MaxConcurrentStreams)
	assert.Equal(t, DefaultHTTP2IdleTimeout, h2.IdleTimeout)
	assert.Zero(t, h2.MaxReadFrameSize, "x/net's default")

	h2 = HTTP2Server(HTTP2Options{MaxConcurrentStreams: 10, IdleTimeout: -1, MaxReadFrameSize: 1 << 16})
	assert.Equal(t, uint32(10), h2.MaxConcurrentStreams)
	assert.Zero(t, h2.IdleTimeout, "negative means no idle timeout")
	assert.Equal(t, uint32(1<<16), h2.MaxReadFrameSize)

	assert.Error(t, ConfigureServer(nil, h2))
}

// TestShutdownSendsGoAway checks that ConfigureServer hooks HTTP/2 into
// http.Server.Shutdown, so clients learn to stop sending instead of seeing a
// reset connection.
func TestShutdownSendsGoAway(t *testing.T) {
	ca := newTestCA(t)
	snap, err := NewSnapshot(ca.parsed(t, leafSpec{names: []string{testHost}}), nil)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: quietLog()}
	require.NoError(t, ConfigureServer(srv, HTTP2Server(HTTP2Options{})))
	go func() { _ = srv.Serve(tls.NewListener(ln, ServerConfig(NewStore(snap), Options{}))) }()

	cfg := clientConfig(ca, testHost)
	cfg.NextProtos = []string{"h2"}
	conn, err := tls.Dial("tcp", ln.Addr().String(), cfg)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(conn, http2.ClientPreface)
	require.NoError(t, err)
	fr := http2.NewFramer(conn, conn)
	require.NoError(t, fr.WriteSettings())

	shutdownDone := make(chan error, 1)
	shutdown := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shutdownDone <- srv.Shutdown(ctx)
	}
	for started := false; ; {
		f, err := fr.ReadFrame()
		require.NoError(t, err, "connection ended without GOAWAY")
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			assert.Equal(t, http2.ErrCodeNo, ga.ErrCode)
			break
		}
		if s, ok := f.(*http2.SettingsFrame); ok && !s.IsAck() {
			require.NoError(t, fr.WriteSettingsAck())
			// The server's SETTINGS means it is serving this connection:
			// only now can Shutdown be expected to say GOAWAY on it.
			if !started {
				started = true
				go shutdown()
			}
		}
	}
	_ = conn.Close()
	require.NoError(t, <-shutdownDone)
}
