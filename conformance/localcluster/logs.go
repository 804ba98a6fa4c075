package localcluster

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// A container's output goes to two files: <container>.log holds it as
// written (easy to read in tests), <container>.tslog prefixes each line with
// its arrival time and stream, which the kubelet's log endpoint needs for
// sinceTime, sinceSeconds and timestamps.

// logSink appends one container's output, across restarts, to both files.
type logSink struct {
	mu      sync.Mutex
	raw, ts *os.File
}

func openLogSink(rawPath string) (*logSink, error) {
	raw, err := os.OpenFile(rawPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", rawPath, err)
	}
	ts, err := os.OpenFile(tsLogPath(rawPath), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("opening %s: %w", tsLogPath(rawPath), err)
	}
	return &logSink{raw: raw, ts: ts}, nil
}

func tsLogPath(rawPath string) string { return strings.TrimSuffix(rawPath, ".log") + ".tslog" }

func (s *logSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.raw.Close()
	return s.ts.Close()
}

// stream returns the writer for one stream ("stdout" or "stderr").
func (s *logSink) stream(name string) io.Writer { return &streamWriter{sink: s, name: name} }

type streamWriter struct {
	sink    *logSink
	name    string
	partial []byte
}

// Write splits into lines; a line is stamped when its end arrives.
func (w *streamWriter) Write(p []byte) (int, error) {
	w.sink.mu.Lock()
	defer w.sink.mu.Unlock()
	if _, err := w.sink.raw.Write(p); err != nil {
		return 0, err
	}
	data := append(w.partial, p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		stamp := time.Now().UTC().Format(time.RFC3339Nano)
		fmt.Fprintf(w.sink.ts, "%s %s %s", stamp, w.name, data[:i+1])
		data = data[i+1:]
	}
	w.partial = append(w.partial[:0], data...)
	return len(p), nil
}

// logLine is one stamped line of a .tslog file.
type logLine struct {
	at   time.Time
	text string // with its newline
}

func parseLogLine(s string) (logLine, bool) {
	stamp, rest, ok := strings.Cut(s, " ")
	if !ok {
		return logLine{}, false
	}
	at, err := time.Parse(time.RFC3339Nano, stamp)
	if err != nil {
		return logLine{}, false
	}
	_, text, _ := strings.Cut(rest, " ")
	return logLine{at: at, text: text}, true
}

// logQuery is what a pods/log request asks for.
type logQuery struct {
	since      time.Time
	tail       int // <0: all
	timestamps bool
	limitBytes int64 // 0: no limit
	follow     bool
}

// writeLogs copies the selected lines of a .tslog file to out; with follow
// it keeps copying new lines until ctx ends.
func writeLogs(ctx context.Context, path string, q logQuery, out io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening the container log: %w", err)
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var lines []logLine
	for {
		s, err := r.ReadString('\n')
		if err != nil {
			break // a partial last line is read again when following
		}
		if l, ok := parseLogLine(s); ok && !l.at.Before(q.since) {
			lines = append(lines, l)
		}
	}
	if q.tail >= 0 && len(lines) > q.tail {
		lines = lines[len(lines)-q.tail:]
	}
	lw := &limitedWriter{w: out, left: q.limitBytes}
	for _, l := range lines {
		if err := writeLine(lw, l, q.timestamps); err != nil {
			return nil
		}
	}
	if !q.follow {
		return nil
	}
	return follow(ctx, r, lw, q.timestamps)
}

func follow(ctx context.Context, r *bufio.Reader, out io.Writer, stamps bool) error {
	var pending string
	for {
		s, err := r.ReadString('\n')
		pending += s
		if err == nil {
			if l, ok := parseLogLine(pending); ok {
				if werr := writeLine(out, l, stamps); werr != nil {
					return nil
				}
			}
			pending = ""
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func writeLine(out io.Writer, l logLine, stamps bool) error {
	text := l.text
	if stamps {
		text = l.at.Format(time.RFC3339Nano) + " " + text
	}
	if _, err := io.WriteString(out, text); err != nil {
		return err
	}
	if f, ok := out.(interface{ Flush() }); ok {
		f.Flush()
	}
	return nil
}

// limitedWriter fails once limitBytes are written (0 means no limit).
type limitedWriter struct {
	w    io.Writer
	left int64
	used int64
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.left > 0 && l.used+int64(len(p)) > l.left {
		p = p[:l.left-l.used]
		n, _ := l.w.Write(p)
		l.used += int64(n)
		return n, io.ErrShortWrite
	}
	n, err := l.w.Write(p)
	l.used += int64(n)
	return n, err
}

func (l *limitedWriter) Flush() {
	if f, ok := l.w.(interface{ Flush() }); ok {
		f.Flush()
	}
}
