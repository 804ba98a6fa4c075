package table

import "slices"

// chunks is a slice kept in chunks of chunkLen elements, so that a derived
// table (WithHosts, WithEndpoints) copies only the chunks it writes to and
// shares the others with the table it came from: the cost of a change is
// the chunks it touches, not the length. The zero value is empty.
type chunks[T any] struct {
	c [][]T // every chunk but the last holds chunkLen elements
	n int
}

const (
	chunkBits = 8
	chunkLen  = 1 << chunkBits
)

func chunksOf[T any](s []T) chunks[T] {
	var c chunks[T]
	for len(s) > 0 {
		k := min(len(s), chunkLen)
		c.c = append(c.c, slices.Clip(s[:k:k]))
		c.n += k
		s = s[k:]
	}
	return c
}

func (c *chunks[T]) len() int { return c.n }

func (c *chunks[T]) at(i int) T { return c.c[i>>chunkBits][i&(chunkLen-1)] }

// writer is a derived chunks that copies a chunk before its first write.
// Start one with c.derive() on a copy that no table reads yet.
type writer[T any] struct {
	c     *chunks[T]
	owned map[int]bool // chunks copied already
}

// derive makes c, a copy of another table's chunks, writable without
// touching the other table's.
func (c *chunks[T]) derive() writer[T] {
	c.c = slices.Clone(c.c)
	return writer[T]{c: c, owned: map[int]bool{}}
}

// chunk returns chunk k, copied first when it is still shared.
func (w writer[T]) chunk(k int) []T {
	if !w.owned[k] {
		w.c.c[k] = append(make([]T, 0, chunkLen), w.c.c[k]...)
		w.owned[k] = true
	}
	return w.c.c[k]
}

func (w writer[T]) set(i int, v T) { w.chunk(i >> chunkBits)[i&(chunkLen-1)] = v }

func (w writer[T]) append(v T) {
	c := w.c
	if c.n&(chunkLen-1) == 0 {
		c.c = append(c.c, make([]T, 0, chunkLen))
		w.owned[len(c.c)-1] = true
	}
	k := len(c.c) - 1
	c.c[k] = append(w.chunk(k), v)
	c.n++
}
