package localcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Every process the cluster starts is recorded as pids/<pid> holding its
// /proc/<pid>/stat start time, so that Down after a crash kills exactly these
// processes and never an unrelated one that reused a pid.

// process is a started child with its pid record.
type process struct {
	cmd     *exec.Cmd
	pidFile string
	done    chan struct{} // closed when Wait returns
	err     error         // Wait's result, valid after done
}

// startProcess starts cmd in its own process group, with SIGKILL as its
// parent-death signal, records its pid and reaps it in the background.
func startProcess(l layout, cmd *exec.Cmd) (*process, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	pid := cmd.Process.Pid
	p.pidFile = l.path("pids", strconv.Itoa(pid))
	if st, err := startTime(pid); err == nil {
		_ = os.WriteFile(p.pidFile, []byte(st), 0o644)
	}
	go func() {
		p.err = cmd.Wait()
		_ = os.Remove(p.pidFile)
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM to the process group, waits up to grace, then SIGKILLs.
func (p *process) stop(grace time.Duration) {
	pid := p.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// startTime is field 22 of /proc/<pid>/stat: with the pid it names a process
// uniquely.
func startTime(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", errors.New("malformed stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return "", errors.New("short stat")
	}
	return f[19], nil
}

// killRecorded kills every recorded process that is still the same process,
// with its process group, and removes the records.
func killRecorded(l layout) {
	entries, _ := os.ReadDir(l.path("pids"))
	var live []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		want, _ := os.ReadFile(l.path("pids", e.Name()))
		if got, err := startTime(pid); err == nil && got == string(want) {
			_ = syscall.Kill(-pid, syscall.SIGTERM)
			_ = syscall.Kill(pid, syscall.SIGTERM)
			live = append(live, pid)
		}
		_ = os.Remove(filepath.Join(l.path("pids"), e.Name()))
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range live {
		for time.Now().Before(deadline) && syscall.Kill(pid, 0) == nil {
			time.Sleep(50 * time.Millisecond)
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// recordOwner writes the pid of the process running the cluster (the
// kubelet's home), so that `down` from another shell can stop it first.
func recordOwner(l layout) {
	pid := os.Getpid()
	if st, err := startTime(pid); err == nil {
		_ = os.WriteFile(l.path("owner"), []byte(strconv.Itoa(pid)+" "+st), 0o644)
	}
}

// stopOwner asks a live owner other than this process to stop (SIGTERM: it
// tears its cluster down) and waits up to 30 s for it to exit.
func stopOwner(l layout) {
	b, err := os.ReadFile(l.path("owner"))
	if err != nil {
		return
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid == os.Getpid() {
		return
	}
	if st, err := startTime(pid); err != nil || st != f[1] {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if st, err := startTime(pid); err != nil || st != f[1] {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
