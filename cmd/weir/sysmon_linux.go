package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"
)

// schedBatch is Linux's SCHED_BATCH policy (sched.h).
const schedBatch = 3

// batchMonitor moves the Go runtime's monitor thread to SCHED_BATCH (see
// sysmon.go) and returns its thread ID. It must run early, while the
// program is busy starting: an idle program's monitor sleeps elsewhere.
func batchMonitor() (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	s := threadSampler{
		self:     syscall.Gettid(),
		tids:     procTIDs,
		syscall:  procSyscall,
		sleepNr:  strconv.Itoa(syscall.SYS_NANOSLEEP),
		attempts: 200,
	}
	tid, err := s.findMonitor()
	if err != nil {
		return 0, err
	}
	param := struct{ priority int32 }{0}
	if _, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETSCHEDULER, uintptr(tid), schedBatch, uintptr(unsafe.Pointer(&param))); e != 0 {
		return 0, fmt.Errorf("sched_setscheduler(%d, SCHED_BATCH): %w", tid, e)
	}
	return tid, nil
}

func procTIDs() ([]int, error) {
	d, err := os.Open("/proc/self/task")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	return parseTIDs(names), nil
}

func procSyscall(tid int) (string, error) {
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/syscall")
	return string(b), err
}
