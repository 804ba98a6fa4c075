package table

import (
	"fmt"
	"strings"
	"time"
)

// The parts of an Action that only the Gateway API fills today: request
// mirroring, route timeouts and per-backend header edits. They live in
// the same model as everything else, so a later Ingress annotation can use
// them too.

// Mirror sends a copy of each request (or a share of them) to a backend and
// ignores its answer: fire and forget, so that a slow or failing mirror
// never changes the response the client gets.
type Mirror struct {
	Backend *Backend
	// Numerator out of Denominator requests are mirrored; 0/0 mirrors all.
	Numerator, Denominator int
	// Target, when set, is ingress-nginx's mirror-target (errorpages.go).
	Target *MirrorTarget
}

// RouteTimeouts bound a request that matched a route. 0 leaves a bound off.
type RouteTimeouts struct {
	// Request bounds the whole exchange until the response headers reach
	// the client, all attempts included; beyond it the client gets 504.
	Request time.Duration
	// BackendRequest bounds one attempt, from sending the request to the
	// endpoint to receiving its response headers (504 when it expires).
	BackendRequest time.Duration
}

// BackendFilters are the header edits of one backendRef, applied after the
// route's own when that backend is chosen.
type BackendFilters struct {
	RequestHeaders  HeaderEdits
	ResponseHeaders HeaderEdits
}

// ForBackend returns the action to apply once backend b was chosen: a with
// the chosen backendRef's own header edits after the route's, or a itself
// when that backend has none. It does not allocate (the merged actions are
// made by New).
func (a *Action) ForBackend(b *Backend) *Action {
	for i := range a.Split.Weighted {
		if w := &a.Split.Weighted[i]; w.Backend == b && w.merged != nil {
			return w.merged
		}
	}
	return a
}

// mergeBackendFilters makes each filtered backendRef's merged action.
func mergeBackendFilters(a *Action) {
	for i := range a.Split.Weighted {
		w := &a.Split.Weighted[i]
		if w.Filters == nil || w.merged != nil {
			continue
		}
		m := *a
		m.RequestHeaders = concatEdits(a.RequestHeaders, w.Filters.RequestHeaders)
		m.ResponseHeaders = concatEdits(a.ResponseHeaders, w.Filters.ResponseHeaders)
		w.merged = &m
	}
}

func concatEdits(a, b HeaderEdits) HeaderEdits {
	return HeaderEdits{
		Set:    append(append([]Header(nil), a.Set...), b.Set...),
		Add:    append(append([]Header(nil), a.Add...), b.Add...),
		Remove: append(append([]string(nil), a.Remove...), b.Remove...),
	}
}

// dumpGateway writes the Gateway API parts of an action, when set.
func dumpGateway(b *strings.Builder, a *Action, in string) {
	if t := a.Timeouts; t.Request > 0 || t.BackendRequest > 0 {
		fmt.Fprintf(b, "%stimeouts request=%s backend-request=%s\n", in, t.Request, t.BackendRequest)
	}
	for _, m := range a.Mirrors {
		fmt.Fprintf(b, "%smirror %s", in, m.Backend.Name)
		if m.Denominator > 0 {
			fmt.Fprintf(b, " %d/%d", m.Numerator, m.Denominator)
		}
		b.WriteByte('\n')
	}
}
