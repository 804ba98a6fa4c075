package translate

import (
	"fmt"
	"strings"
)

// FormatProblems lists problems one per line, as `weir translate` prints
// them and the golden files hold them.
func FormatProblems(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "%s %s %s: %s: %s\n", p.Severity, p.Object, p.Field, p.Reason, p.Message)
	}
	return b.String()
}
