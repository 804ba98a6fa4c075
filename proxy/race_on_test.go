//go:build race

package proxy

// raceEnabled: sync.Pool drops a share of what is put back under the race
// detector, so pooled buffers are sometimes allocated again.
const raceEnabled = true
