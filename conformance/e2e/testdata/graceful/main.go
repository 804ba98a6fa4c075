// Command graceful runs echo-basic the way a well-behaved Kubernetes app
// ends: on SIGTERM it keeps serving for a while (what a `preStop: sleep`
// hook does, which the process kubelet does not run), so that load
// balancers see the endpoint leave before the process does; then it stops
// echo-basic. The test builds it with -X main.echoBasic=<path>.
package main

import (
	"log"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

var echoBasic string // set at build time

const delay = 2 * time.Second

func main() {
	cmd := exec.Command(echoBasic, os.Args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// Catch SIGTERM before the child starts: the kubelet signals the whole
	// process group, and echo-basic must only hear it from us.
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		log.Fatalf("starting %s: %v", echoBasic, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		log.Fatalf("echo-basic exited: %v", err)
	case <-term:
	}
	log.Printf("SIGTERM: serving %v more before stopping", delay)
	time.Sleep(delay)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	<-done
}
