package proxy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lockedBuffer collects what the access log writes, and counts the writes.
type lockedBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes++
	return b.buf.Write(p)
}

func (b *lockedBuffer) lines(t *testing.T) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSuffix(b.buf.Bytes(), []byte("\n")), []byte("\n")) {
		var m map[string]any
		require.NoError(t, json.Unmarshal(line, &m), "%q", line)
		out = append(out, m)
	}
	return out
}

// Every request is one JSON line with the documented fields, whatever bytes
// the client put in the fields it controls, and lines reach the writer in
// batches, not one write each.
func TestAccessLogIsOneJSONLinePerRequest(t *testing.T) {
	out := &lockedBuffer{}
	h := newHarness(t, Options{AccessLog: true, AccessLogWriter: out})
	h.publish(routeTo("a.test", "/", backendOf("web", named(t, "web"))))
	agent := `evil"}{"status":200,\ ` + "\xff é" // control bytes never pass net/http; FuzzJSONString covers them
	for i := 0; i < 3; i++ {
		status, _ := h.get("a.test", "/p?q=1", "User-Agent", agent, "X-Request-Id", "rid-1")
		require.Equal(t, http.StatusOK, status)
	}
	status, _ := h.get("nowhere.test", "/")
	require.Equal(t, http.StatusNotFound, status)
	h.srv.Close()

	lines := out.lines(t)
	require.Len(t, lines, 4)
	assert.Equal(t, 1, out.writes, "four lines, one write")
	l := lines[0]
	assert.Equal(t, "access", l["msg"])
	assert.Equal(t, "info", l["level"])
	assert.Equal(t, "GET", l["method"])
	assert.Equal(t, "a.test", l["host"])
	assert.Equal(t, "/p?q=1", l["uri"])
	assert.Equal(t, "HTTP/1.1", l["proto"])
	assert.Equal(t, 200.0, l["status"])
	assert.Equal(t, "test", l["namespace"])
	assert.Equal(t, "ing", l["ingress"])
	assert.Equal(t, "web", l["backend"])
	assert.Equal(t, false, l["canary"])
	assert.Equal(t, 1.0, l["attempts"])
	assert.Equal(t, "rid-1", l["request_id"])
	assert.Equal(t, "127.0.0.1", l["client"])
	assert.Equal(t, `evil"}{"status":200,\ `+"\ufffd é", l["user_agent"])
	assert.NotEmpty(t, l["upstream"])
	assert.Positive(t, l["duration"])
	assert.Positive(t, l["bytes"])
	assert.Equal(t, 404.0, lines[3]["status"])
	assert.Equal(t, "", lines[3]["backend"])
}

// The JSON escaping decodes to what encoding/json makes of the same string.
func FuzzJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\s", "\x00\x1f\x7f", "é\xff\xfe€", "\u2028\U0001F600", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := append(jsonString([]byte{'{', '"', 'a', '"', ':', '0'}, "k", s), '}')
		if !utf8.Valid(b) || bytes.ContainsAny(b, "\n\r") {
			t.Fatalf("%q: invalid UTF-8 or a line break in %q", s, b)
		}
		var got struct{ K string }
		require.NoError(t, json.Unmarshal(b, &got), "%q", b)
		ref, _ := json.Marshal(s)
		var want string
		require.NoError(t, json.Unmarshal(ref, &want))
		if got.K != want {
			t.Fatalf("%q: decoded %q, encoding/json gives %q", s, got.K, want)
		}
	})
}

// Lines queued from many connections at once all reach the writer whole,
// and the lines of one connection keep their order.
func TestAccessLogShardsKeepLinesWholeAndOrdered(t *testing.T) {
	out := &lockedBuffer{}
	l := newAccessLog(out)
	const conns, perConn = 16, 500
	var wg sync.WaitGroup
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := fmt.Sprintf("10.0.0.%d:4%04d", c, c)
			for i := 0; i < perConn; i++ {
				line := fmt.Sprintf(`{"conn":%d,"i":%d,"pad":"%s"}`+"\n", c, i, strings.Repeat("x", i%300))
				l.add(&l.shards[shardOf(addr, len(l.shards))], []byte(line))
			}
		}()
	}
	wg.Wait()
	l.flush()
	next := make([]float64, conns)
	lines := out.lines(t)
	require.Len(t, lines, conns*perConn)
	for _, m := range lines {
		c := int(m["conn"].(float64))
		require.Equal(t, next[c], m["i"], "connection %d's lines out of order", c)
		next[c]++
	}
}

// The access log's time is time.Format's, in every zone and at every
// millisecond, also across the second its formatting is cached for.
func TestAppendLogTime(t *testing.T) {
	base := time.Date(2026, 11, 28, 23, 59, 58, 0, time.UTC)
	for _, loc := range []*time.Location{time.UTC, time.FixedZone("x", -(3*3600 + 30*60)), time.Local} {
		for ms := 0; ms < 3000; ms += 7 {
			tm := base.Add(time.Duration(ms)*time.Millisecond + 123456).In(loc)
			want := tm.Format("2006-01-02T15:04:05.000Z0700")
			require.Equal(t, want, string(appendLogTime([]byte("x"), tm))[1:])
		}
	}
}
