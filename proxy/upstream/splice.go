package upstream

// DestError marks a failure to write to the destination of a spliced body
// (Splice): the destination's fault (a client that left or reset), never
// the endpoint's.
type DestError struct{ Err error }

func (e *DestError) Error() string { return "write spliced body: " + e.Err.Error() }
func (e *DestError) Unwrap() error { return e.Err }
