// Package cow holds a slice in chunks that are copied on write, so that a
// derived copy (a routing table that table.WithHosts or WithEndpoints makes,
// the proxy's per-route metric series) copies only the chunks it writes to
// and shares the others with the one it came from: the cost of a change is
// the chunks it touches, not the length. Reading an element is two indexed
// loads and allocates nothing.
package cow

import (
	"iter"
	"slices"
)

// Slice is a read-only view; the zero value is empty. Copying a Slice is
// cheap and shares every chunk.
type Slice[T any] struct {
	c [][]T // every chunk but the last holds chunkLen elements
	n int
}

const (
	chunkBits = 8
	chunkLen  = 1 << chunkBits
)

// Of keeps s (which the caller no longer writes to) in chunks, without
// copying its elements.
func Of[T any](s []T) Slice[T] {
	var c Slice[T]
	for len(s) > 0 {
		k := min(len(s), chunkLen)
		c.c = append(c.c, slices.Clip(s[:k:k]))
		c.n += k
		s = s[k:]
	}
	return c
}

// Len is the number of elements.
func (c *Slice[T]) Len() int { return c.n }

// At is element i; it panics when i is out of range, as indexing does.
func (c *Slice[T]) At(i int) T { return c.c[i>>chunkBits][i&(chunkLen-1)] }

// All yields every index and element in order.
func (c *Slice[T]) All() iter.Seq2[int, T] {
	return func(yield func(int, T) bool) {
		i := 0
		for _, ch := range c.c {
			for _, v := range ch {
				if !yield(i, v) {
					return
				}
				i++
			}
		}
	}
}

// Writer writes to a derived Slice, copying a chunk before its first
// write. Start one with Derive on a copy that nothing reads yet.
type Writer[T any] struct {
	c     *Slice[T]
	owned map[int]bool // chunks copied already
}

// Derive makes c, a copy of another Slice, writable without touching the
// other's chunks.
func (c *Slice[T]) Derive() Writer[T] {
	c.c = slices.Clone(c.c)
	return Writer[T]{c: c, owned: map[int]bool{}}
}

// chunk returns chunk k, copied first when it is still shared.
func (w Writer[T]) chunk(k int) []T {
	if !w.owned[k] {
		w.c.c[k] = append(make([]T, 0, chunkLen), w.c.c[k]...)
		w.owned[k] = true
	}
	return w.c.c[k]
}

// Set writes element i.
func (w Writer[T]) Set(i int, v T) { w.chunk(i >> chunkBits)[i&(chunkLen-1)] = v }

// Append adds v at the end.
func (w Writer[T]) Append(v T) {
	c := w.c
	if c.n&(chunkLen-1) == 0 {
		c.c = append(c.c, make([]T, 0, chunkLen))
		w.owned[len(c.c)-1] = true
	}
	k := len(c.c) - 1
	c.c[k] = append(w.chunk(k), v)
	c.n++
}
