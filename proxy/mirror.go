package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"

	"weir.dev/weir/proxy/balance"
	"weir.dev/weir/proxy/table"
)

// Request mirroring (the Gateway API's RequestMirror filter): a copy of the
// request goes to each mirror backend that its share selects, fire and
// forget. The copy runs on its own goroutine with its own deadline; its
// response is read and dropped; at most maxMirrorsInFlight copies are on
// their way in the process (every listener's Server shares the bound), and
// a copy that would exceed it is skipped, so a slow mirror never slows or
// fails the real request.
const (
	maxMirrorsInFlight = 256
	mirrorTimeout      = 10 * time.Second
	// maxMirrorBody is the largest request body copied to mirrors; a
	// request with a larger (or unknown-length) body is not mirrored,
	// because copying it would mean holding it in memory.
	maxMirrorBody = 64 << 10
)

// mirrorSlots holds one token per copy in flight.
var mirrorSlots = make(chan struct{}, maxMirrorsInFlight)

// mirror sends the request's copies. It may replace r.Body with an
// in-memory copy of a small body (read under the client body timeout), so
// it runs before the request is forwarded.
func (s *Server) mirror(w http.ResponseWriter, r *http.Request, snap *snapshot, a *table.Action) {
	var body []byte
	for _, m := range a.Mirrors {
		if m.Denominator > 0 && s.rnd.IntN(m.Denominator) >= m.Numerator {
			continue
		}
		if r.ContentLength != 0 && body == nil && (m.Target == nil || !m.Target.NoBody) {
			if r.ContentLength < 0 || r.ContentLength > maxMirrorBody {
				return
			}
			if t := s.bodyTimeout(); t > 0 {
				bodyDeadliner(w).SetReadDeadline(time.Now().Add(t))
			}
			b, err := io.ReadAll(io.LimitReader(r.Body, r.ContentLength))
			if err != nil {
				// The client failed mid-body: the request goes on with what
				// was read and then the same error, so it fails as it would
				// have without mirroring; nothing is mirrored.
				r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(b), errReader{err}))
				return
			}
			body = b
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		select {
		case mirrorSlots <- struct{}{}:
		default:
			continue // too many copies in flight: skip this one
		}
		s.sendMirror(r, snap, a, m.Backend, body, m.Target)
	}
}

// sendMirror sends one copy on its own goroutine.
func (s *Server) sendMirror(r *http.Request, snap *snapshot, a *table.Action, b *table.Backend, body []byte, t *table.MirrorTarget) {
	ctx, cancel := context.WithTimeout(context.Background(), mirrorTimeout)
	cp := r.Clone(ctx)
	cp.Body = http.NoBody
	if t != nil && t.NoBody {
		cp.ContentLength, body = 0, nil
	}
	if body != nil {
		cp.Body = io.NopCloser(bytes.NewReader(body))
	}
	info := s.requestInfo(r)
	pool := snap.pools.At(b.Index())
	go func() {
		defer func() { <-mirrorSlots }()
		defer cancel()
		defer func() { _ = recover() }() // a copy never takes the proxy down
		ep := pool.Pick(cp, info.clientIP, nil)
		if ep == nil {
			return
		}
		out := s.buildOutgoing(mirrorWriter{}, cp, nil, a, &info)
		if t != nil && !s.targetMirror(out, t) {
			return
		}
		out.addr, out.gone = ep.Address(), ep.Gone()
		to := backendTimeouts(b)
		ep.Begin()
		t0 := time.Now()
		resp, err := s.upstreams.roundTrip(ctx, b.Protocol, out, &to)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
		}
		ep.End(endOutcome(time.Since(t0), err, resp))
	}()
}

// endOutcome is what a mirror copy tells the balancer about its endpoint:
// its latency, and a failure only when the endpoint could not be reached.
func endOutcome(latency time.Duration, err error, resp *http.Response) balance.Outcome {
	o := balance.Outcome{Latency: latency, Failed: err != nil}
	if resp != nil {
		o.Status = resp.StatusCode
	}
	return o
}

// mirrorWriter stands in for the client's ResponseWriter when a copy is
// built: the copy's body is in memory, so there is no client read deadline
// to set (and the client's connection must never be touched from here).
type mirrorWriter struct{ http.ResponseWriter }

func (mirrorWriter) SetReadDeadline(time.Time) error { return nil }

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
