package localcluster

import (
	"context"
	"fmt"
	"syscall"
	"time"
)

// The control plane's processes by name, in the order Up starts them (the
// index into Cluster.procs).
var controlPlane = map[string]int{"etcd": 0, "kube-apiserver": 1, "kube-controller-manager": 2}

// RestartControlPlane stops one control-plane process ("etcd",
// "kube-apiserver" or "kube-controller-manager") with SIGTERM, leaves it down
// for down, starts it again with the same arguments and waits until it is
// healthy: the faults a real control plane has during an upgrade or a crash.
// Fault tests use it; it must not run concurrently with itself or Down.
func (c *Cluster) RestartControlPlane(ctx context.Context, name string, down time.Duration) error {
	i, ok := controlPlane[name]
	if !ok || i >= len(c.procs) {
		return fmt.Errorf("no control-plane process %q", name)
	}
	old := c.procs[i]
	old.stop(10 * time.Second)
	c.logf("%s stopped; down for %v", name, down)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(down):
	}
	p, err := startDaemon(c.l, name, old.cmd.Path, old.cmd.Args[1:]...)
	if err != nil {
		return err
	}
	c.procs[i] = p
	return c.waitHealthy(ctx, name, p)
}

// FreezeControlPlane sends SIGSTOP to one control-plane process and
// SIGCONT after d: a process that hangs without exiting (its connections
// stay open and never answer), which clients notice only by timeouts.
func (c *Cluster) FreezeControlPlane(ctx context.Context, name string, d time.Duration) error {
	i, ok := controlPlane[name]
	if !ok || i >= len(c.procs) {
		return fmt.Errorf("no control-plane process %q", name)
	}
	pid := c.procs[i].cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return fmt.Errorf("freezing %s: %w", name, err)
	}
	defer syscall.Kill(pid, syscall.SIGCONT)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
	}
	return nil
}

// waitHealthy waits for a restarted process's health endpoint.
func (c *Cluster) waitHealthy(ctx context.Context, name string, p *process) error {
	l := c.l
	httpc, err := httpClientFor(l)
	if err != nil {
		return err
	}
	switch name {
	case "etcd":
		return waitHTTP(ctx, httpc, fmt.Sprintf("http://127.0.0.1:%d/health", l.etcdClientPort), "", p, l.path("logs", "etcd.log"))
	case "kube-apiserver":
		return waitHTTP(ctx, httpc, l.apiserverURL()+"/readyz", c.Token, p, l.path("logs", "kube-apiserver.log"))
	}
	return nil
}
