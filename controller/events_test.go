package controller

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"weir.dev/weir/controller/translate"
)

// replica is one Weir replica of TestOnlyTheLeaderEmitsEvents, with its
// Events caught by a FakeRecorder.
type replica struct {
	c      *Controller
	events *record.FakeRecorder
	stop   func()
}

func startReplica(t *testing.T, client *fake.Clientset, identity string) *replica {
	t.Helper()
	c, err := New(client, Options{HoldOff: 10 * time.Millisecond, Events: true, Status: &StatusOptions{
		PublishStatusAddress: "192.0.2.1", ElectionID: "weir-events", Identity: identity}}, &recorder{}, nil, nil)
	require.NoError(t, err)
	fr := record.NewFakeRecorder(100)
	c.events.recorder = fr
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return &replica{c: c, events: fr, stop: stop}
}

// hasProblem reports whether the replica's newest table reports reason
// (report, which would emit, runs before the table is kept).
func (r *replica) hasProblem(reason string) bool {
	last := r.c.Last()
	return last != nil && strings.Contains(translate.FormatProblems(last.Problems), reason)
}

// drain returns the Events recorded so far.
func (r *replica) drain() []string {
	var out []string
	for {
		select {
		case e := <-r.events.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// TestOnlyTheLeaderEmitsEvents: of two replicas that see the same problem,
// only the one holding the Lease records its Event; when it stops, the
// other takes over and reports the problem that is still there once.
func TestOnlyTheLeaderEmitsEvents(t *testing.T) {
	client := fake.NewClientset(class(), ingress("bad", "b.test", "missing", nil))
	a, b := startReplica(t, client, "replica-a"), startReplica(t, client, "replica-b")
	want := "Warning " + translate.ReasonServiceNotFound
	var leader, follower *replica
	var got []string
	require.Eventually(t, func() bool {
		for _, r := range []*replica{a, b} {
			if evs := r.drain(); len(evs) > 0 {
				leader, got = r, evs
			}
		}
		return leader != nil
	}, 20*time.Second, 10*time.Millisecond, "the leader records the Event")
	require.Len(t, got, 1)
	assert.Contains(t, got[0], want)
	follower = a
	if leader == a {
		follower = b
	}
	require.Eventually(t, func() bool { return follower.hasProblem(translate.ReasonServiceNotFound) }, 20*time.Second, 10*time.Millisecond)
	assert.Empty(t, follower.drain(), "the other replica found the same problem but records nothing")

	// The leader goes (and releases the Lease): the follower leads and
	// reports the problem, which is still there, once.
	leader.stop()
	var after []string
	require.Eventually(t, func() bool {
		after = append(after, follower.drain()...)
		return len(after) > 0
	}, 30*time.Second, 20*time.Millisecond, "the new leader reports the standing problem")
	assert.Len(t, after, 1)
	assert.Contains(t, after[0], want)
}
