package wire

import "time"

// NextDeadline is the coarse deadline rule of every connection deadline
// Weir moves per read or write (the client's keep-alive wait and send
// timeout, an endpoint's read and send timeouts). A deadline at is kept
// while it falls between timeout and timeout plus DeadlineSlack(timeout)
// from now, so a busy connection moves it at most once per slack instead
// of on every read or write (each move is a timer change in Go's runtime);
// otherwise NextDeadline returns the deadline to set, timeout plus the
// slack from now, and true. A wait that makes no progress therefore fails
// after between timeout and timeout plus the slack: never before its
// timeout. A zero at is never kept.
func NextDeadline(at, now time.Time, timeout time.Duration) (time.Time, bool) {
	return NextDeadlineWithin(at, now, timeout, DeadlineSlack(timeout))
}

// NextDeadlineWithin is NextDeadline with a slack of the caller's: for a
// short wait whose end may come later by as much as the wait itself.
func NextDeadlineWithin(at, now time.Time, timeout, slack time.Duration) (time.Time, bool) {
	want := now.Add(timeout)
	if !at.Before(want) && at.Sub(want) <= slack {
		return at, false
	}
	return want.Add(slack), true
}

// DeadlineSlack is how much later than its timeout a deadline of
// NextDeadline may fall: a sixteenth of the timeout, at most a second.
func DeadlineSlack(timeout time.Duration) time.Duration { return min(timeout/16, time.Second) }
