package globalconfig

import "weir.dev/weir/annotations"

// suggest names the closest known key to a probable typo, or "".
func suggest(name string) string {
	names := make([]string, 0, len(registry))
	for k := range registry {
		names = append(names, k)
	}
	if best := annotations.Closest(name, names); best != "" {
		return ` (did you mean "` + best + `"?)`
	}
	return ""
}
