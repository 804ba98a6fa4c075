package annotations

import "strings"

// suggestion returns ` (did you mean "PREFIX+X"?)` for an unknown key close
// to a key X of known, or "".
func suggestion(name, prefix string, known map[string]Entry) string {
	if best := closest(name, func(yield func(string)) {
		for n := range known {
			yield(n)
		}
	}); best != "" {
		return ` (did you mean "` + prefix + best + `"?)`
	}
	return ""
}

// Closest returns the name in known nearest to name by edit distance, or ""
// when none is close (controller/globalconfig suggests ConfigMap keys).
func Closest(name string, known []string) string {
	return closest(name, func(yield func(string)) {
		for _, k := range known {
			yield(k)
		}
	})
}

// closest returns the candidate with the smallest edit distance to name when
// that distance is small for the name's length (at most 1 for short names,
// at most 3 for long ones); ties go to the alphabetically first.
func closest(name string, candidates func(yield func(string))) string {
	name = strings.ToLower(name)
	limit := 1 + len(name)/8
	if limit > 3 {
		limit = 3
	}
	best, bestD := "", limit+1
	candidates(func(c string) {
		d := editDistance(name, c, bestD)
		if d < bestD || (d == bestD && d <= limit && c < best) {
			best, bestD = c, d
		}
	})
	if bestD > limit {
		return ""
	}
	return best
}

// editDistance is the optimal-string-alignment distance of a and b (bytes):
// insertions, deletions, substitutions and swaps of neighbours cost 1. It
// gives up with max+1 once every alignment exceeds max.
func editDistance(a, b string, max int) int {
	if d := len(a) - len(b); d > max || -d > max {
		return max + 1
	}
	rows := [3][]int{make([]int, len(b)+1), make([]int, len(b)+1), make([]int, len(b)+1)}
	for j := range rows[0] {
		rows[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		pp, prev, cur := rows[(i+1)%3], rows[(i+2)%3], rows[i%3] // rows i-2, i-1, i
		cur[0] = i
		rowMin := i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], pp[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > max {
			return max + 1
		}
	}
	return rows[len(a)%3][len(b)]
}
