//go:build !linux

package main

import "errors"

// batchMonitor needs Linux's scheduling policies (sysmon.go).
func batchMonitor() (int, error) {
	return 0, errors.New("scheduling policies are Linux's")
}
