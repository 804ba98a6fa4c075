package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimitShare is the part of the container's memory limit given to Go
// as its soft limit: the rest covers what the Go runtime does not count
// (stacks in flight, the binary, kernel buffers) and the time the collector
// needs to catch up before the container is killed.
const memoryLimitShare = 0.9

// applyMemoryLimit sets Go's soft memory limit from WEIR_MEMORY_LIMIT (the
// container's memory limit in bytes; deploy/base fills it from
// resourceFieldRef limits.memory), unless GOMEMLIMIT is set: GOMEMLIMIT
// needs a unit suffix and a share, which a resourceFieldRef cannot give.
// It returns the limit set (0: none) and an error for a value that is not
// a byte count. "0" and "" mean no limit.
func applyMemoryLimit(getenv func(string) string) (int64, error) {
	if getenv("GOMEMLIMIT") != "" {
		return 0, nil
	}
	v := strings.TrimSpace(getenv("WEIR_MEMORY_LIMIT"))
	if v == "" || v == "0" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("WEIR_MEMORY_LIMIT=%q: want the memory limit in bytes (resourceFieldRef limits.memory with divisor 1)", v)
	}
	limit := int64(float64(n) * memoryLimitShare)
	debug.SetMemoryLimit(limit)
	return limit, nil
}

// memoryLimitFromEnv applies the memory limit of this process's environment.
func memoryLimitFromEnv() (int64, error) { return applyMemoryLimit(os.Getenv) }
