package proxy

import (
	"io"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"weir.dev/weir/proxy/table"
)

// accessLog writes one JSON line per request, in the shape of the zap
// production logger's lines ({"level":"info","time":...,"msg":"access",
// fields...}), without zap: the line is appended field by field to its
// shard's buffer (under the shard's lock), and lines are gathered into
// writes of up to
// accessLogBuffer bytes, at most accessLogDelay after the first line of a
// write, instead of one write system call per request (nginx's
// access_log buffer= and flush=). A write always ends at the end of a line,
// so lines of the process's other loggers on the same stream never cut one.
//
// Lines gather in shards chosen by the client connection's address, so
// requests on different connections do not wait on one lock; the lines of
// one connection stay in order. Only the writes take the shared lock.
type accessLog struct {
	wmu    sync.Mutex // serialises writes to w
	w      io.Writer
	shards []logShard
}

// logShard is one buffer of queued lines.
type logShard struct {
	mu      sync.Mutex
	buf     []byte
	pending bool     // a delayed flush is armed
	_       [32]byte // keeps neighbouring shards' locks off one cache line
}

const (
	accessLogBuffer = 64 << 10
	accessLogDelay  = time.Second
)

func newAccessLog(w io.Writer) *accessLog {
	n := min(max(4*runtime.GOMAXPROCS(0), 4), 64)
	return &accessLog{w: w, shards: make([]logShard, n)}
}

// write queues the access log line of a finished request, formatted
// straight into its shard's buffer.
func (l *accessLog) write(r *http.Request, ex *exchange, d time.Duration) {
	s := &l.shards[shardOf(r.RemoteAddr, len(l.shards))]
	s.mu.Lock()
	start := s.grow()
	s.buf = accessLine(s.buf, r, ex, d)
	l.queued(s, start)
	s.mu.Unlock()
}

// shardOf hashes a connection's address (FNV-1a) onto n shards.
func shardOf(addr string, n int) int {
	h := uint32(2166136261)
	for i := 0; i < len(addr); i++ {
		h = (h ^ uint32(addr[i])) * 16777619
	}
	return int(h % uint32(n))
}

// add queues one line (which ends in a newline) in shard s.
func (l *accessLog) add(s *logShard, line []byte) {
	s.mu.Lock()
	start := s.grow()
	s.buf = append(s.buf, line...)
	l.queued(s, start)
	s.mu.Unlock()
}

// grow makes the shard's buffer, with room past accessLogBuffer for a
// line that crosses it, and returns where the next line starts; s.mu is
// held.
func (s *logShard) grow() int {
	if s.buf == nil {
		s.buf = make([]byte, 0, accessLogBuffer+8<<10)
	}
	return len(s.buf)
}

// queued takes in the line just appended at s.buf[start:]; s.mu is held.
// When the buffer is over accessLogBuffer, the lines before it are written
// and it moves to the front; the first line of a write arms its flush.
func (l *accessLog) queued(s *logShard, start int) {
	if len(s.buf) > accessLogBuffer && start > 0 {
		l.wmu.Lock()
		l.w.Write(s.buf[:start]) // nowhere to report a failure to write the log
		l.wmu.Unlock()
		s.buf = s.buf[:copy(s.buf, s.buf[start:])]
	}
	if !s.pending {
		s.pending = true
		time.AfterFunc(accessLogDelay, func() { l.flushShard(s) })
	}
}

// flush writes everything queued.
func (l *accessLog) flush() {
	for i := range l.shards {
		l.flushShard(&l.shards[i])
	}
}

func (l *accessLog) flushShard(s *logShard) {
	s.mu.Lock()
	l.writeLocked(s)
	s.pending = false
	s.mu.Unlock()
}

// writeLocked writes shard s's lines; s.mu is held.
func (l *accessLog) writeLocked(s *logShard) {
	if len(s.buf) > 0 {
		l.wmu.Lock()
		l.w.Write(s.buf) // nowhere to report a failure to write the log
		l.wmu.Unlock()
		s.buf = s.buf[:0]
	}
	if cap(s.buf) > 4*accessLogBuffer {
		s.buf = nil // grown by a huge line: not kept
	}
}

// accessLine appends the access log line of a finished request to b.
func accessLine(b []byte, r *http.Request, ex *exchange, d time.Duration) []byte {
	var src table.Source
	if ex.route != nil {
		src = ex.route.Source
	}
	b = append(b, `{"level":"info","time":"`...)
	b = appendLogTime(b, ex.start.Add(d))
	b = append(b, `","msg":"access"`...)
	b = jsonString(b, "client", ex.info.clientIP)
	b = jsonString(b, "method", r.Method)
	b = jsonString(b, "host", r.Host)
	b = jsonString(b, "uri", r.RequestURI)
	b = jsonString(b, "proto", r.Proto)
	b = strconv.AppendInt(append(b, `,"status":`...), int64(ex.status), 10)
	b = strconv.AppendInt(append(b, `,"bytes":`...), ex.bytes, 10)
	b = strconv.AppendFloat(append(b, `,"duration":`...), d.Seconds(), 'g', -1, 64)
	b = jsonString(b, "kind", src.Kind) // Ingress, HTTPRoute or GRPCRoute; "ingress" is its name
	b = jsonString(b, "namespace", src.Namespace)
	b = jsonString(b, "ingress", src.Name)
	b = jsonString(b, "backend", backendName(ex.backend))
	b = strconv.AppendBool(append(b, `,"canary":`...), ex.side == table.SideCanary)
	b = jsonString(b, "upstream", ex.upstream)
	b = strconv.AppendFloat(append(b, `,"upstream_latency":`...), ex.upLatency.Seconds(), 'g', -1, 64)
	b = strconv.AppendInt(append(b, `,"attempts":`...), int64(ex.attempts), 10)
	b = jsonString(b, "request_id", ex.info.requestID)
	b = jsonString(b, "user_agent", r.UserAgent())
	return append(b, "}\n"...)
}

// jsonString appends `,"key":"value"` with value escaped as JSON: quotes,
// backslashes and control characters escaped, and each byte that is not
// part of valid UTF-8 replaced by U+FFFD (as encoding/json does), so a
// client's bytes can never end the string or the line.
func jsonString(b []byte, key, s string) []byte {
	b = append(b, `,"`...)
	b = append(b, key...)
	b = append(b, `":"`...)
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonPlain[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		default:
			if c < ' ' {
				b = append(b, `\u00`...)
				b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
			} else {
				b = append(b, `\ufffd`...)
			}
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// jsonPlain holds the bytes a JSON string takes as they are: ASCII but
// control characters, quotes and backslashes.
var jsonPlain = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendLogTime appends t as "2006-01-02T15:04:05.000Z0700", the date,
// time and zone formatted once a second (logTimeCache).
func appendLogTime(b []byte, t time.Time) []byte {
	sec := t.Unix()
	c := logTimeCache.Load()
	if c == nil || c.sec != sec || c.loc != t.Location() {
		c = &logTime{sec: sec, loc: t.Location(), head: t.AppendFormat(nil, "2006-01-02T15:04:05"),
			zone: t.AppendFormat(nil, "Z0700")}
		logTimeCache.Store(c)
	}
	ms := t.Nanosecond() / 1e6
	b = append(b, c.head...)
	b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	return append(b, c.zone...)
}

// logTime is one second's formatted date, time and zone.
type logTime struct {
	sec        int64
	loc        *time.Location
	head, zone []byte
}

var logTimeCache atomic.Pointer[logTime]
