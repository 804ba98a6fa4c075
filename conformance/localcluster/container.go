package localcluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// container is one running (or waiting) container of a Pod: a local process
// started through `ip netns exec <pod netns> unshare --mount` and a small
// shell prologue that bind-mounts the volumes before exec'ing the binary.
type container struct {
	spec    *corev1.Container
	rule    ImageRule
	logPath string
	logs    *logSink // opened at first start, closed when the Pod stops

	argv     []string
	env      []string
	mounts   []bindMount
	hostname string // set in the container's own UTS namespace

	proc      *process
	startedAt time.Time
	restarts  int32
	lastTerm  *corev1.ContainerStateTerminated
	finished  bool // exited and not to be restarted
	backoff   time.Duration
	nextStart time.Time

	// Probe state (prober.go): started is false until the startup probe
	// passes; killing is set while a probe-failed container is stopped.
	ready, started, killing      bool
	startup, liveness, readiness prober
}

type bindMount struct {
	src, dst string
	readOnly bool
}

// Restart back-off doubles from 1 s up to 30 s (the real kubelet uses 10 s up
// to 5 min; tests want faster recovery) and resets after 60 s of running.
const (
	maxBackoff   = 30 * time.Second
	stableRunFor = 60 * time.Second
)

// prepare materialises volumes and resolves every container's environment,
// arguments and mounts. It fails (to be retried) while a referenced Secret or
// ConfigMap is missing.
func (w *podWorker) prepare(ctx context.Context, pod *corev1.Pod) error {
	hostIP := w.k.l.bridgeAddr.String()
	vw := &volumeWriter{client: w.k.client, pod: pod, dir: filepath.Join(w.dir, "volumes"), podIP: w.podIP(), hostIP: hostIP}
	paths, err := vw.materialize(ctx)
	if err != nil {
		return err
	}
	uts, err := utsName(pod)
	if err != nil {
		return err
	}
	hosts, err := writeHostsFile(w.dir, pod, w.podIP())
	if err != nil {
		return err
	}
	er := &envResolver{client: w.k.client, pod: pod, podIP: w.podIP(), hostIP: hostIP}
	for _, c := range w.containers {
		env, vars, err := er.resolve(ctx, c.spec, w.baseEnv(uts))
		if err != nil {
			return fmt.Errorf("container %s: %w", c.spec.Name, err)
		}
		c.env = env
		c.argv = argv(c.rule, c.spec)
		for i := range c.argv[1:] {
			c.argv[i+1] = expand(c.argv[i+1], vars)
		}
		if c.mounts, err = w.mountsFor(c.spec, paths); err != nil {
			return fmt.Errorf("container %s: %w", c.spec.Name, err)
		}
		if !mountsPath(c.spec, "/etc/hosts") {
			c.mounts = append(c.mounts, bindMount{src: hosts, dst: "/etc/hosts"})
		}
		c.hostname = uts
	}
	w.prepared = true
	return nil
}

// baseEnv is what every container gets before its own env: the in-cluster
// API address (the bridge address: there is no Service routing) and a PATH.
func (w *podWorker) baseEnv(hostname string) map[string]string {
	host, port := w.k.l.bridgeAddr.String(), strconv.Itoa(w.k.l.apiserverPort)
	return map[string]string{
		"PATH":                          "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME":                          "/root",
		"HOSTNAME":                      hostname,
		"KUBERNETES_SERVICE_HOST":       host,
		"KUBERNETES_SERVICE_PORT":       port,
		"KUBERNETES_SERVICE_PORT_HTTPS": port,
		"KUBERNETES_PORT":               "tcp://" + host + ":" + port,
	}
}

func (w *podWorker) mountsFor(c *corev1.Container, paths map[string]string) ([]bindMount, error) {
	var out []bindMount
	for _, vm := range c.VolumeMounts {
		src, ok := paths[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volumeMount %s names no volume", vm.Name)
		}
		if vm.SubPath != "" {
			src = filepath.Join(src, filepath.Clean("/"+vm.SubPath))
		}
		fi, err := os.Stat(src)
		if err != nil {
			return nil, fmt.Errorf("volumeMount %s: %w", vm.Name, err)
		}
		held, err := w.k.mounts.acquire(vm.MountPath, !fi.IsDir())
		if err != nil {
			return nil, err
		}
		w.held = append(w.held, held...)
		out = append(out, bindMount{src: src, dst: vm.MountPath, readOnly: vm.ReadOnly})
	}
	return out, nil
}

// command builds the exec.Cmd that runs the container in the Pod's network
// namespace, in a private mount namespace and in its own UTS namespace named
// after the Pod.
func (c *container) command(netns string) *exec.Cmd {
	// The binary is opened before the mounts, which may hide its path (a
	// volume at /root hides a cache under $HOME), and run through the open
	// descriptor.
	var script strings.Builder
	script.WriteString("set -e\nexec 3<\"$1\"\nshift\n")
	// Writing the file sets the host name of the shell's (new) UTS namespace.
	fmt.Fprintf(&script, "printf %%s %s >/proc/sys/kernel/hostname\n", shellQuote(c.hostname))
	for _, m := range c.mounts {
		fmt.Fprintf(&script, "mount --bind %s %s\n", shellQuote(m.src), shellQuote(m.dst))
		if m.readOnly {
			fmt.Fprintf(&script, "mount -o remount,bind,ro %s\n", shellQuote(m.dst))
		}
	}
	script.WriteString(`exec /proc/self/fd/3 "$@"` + "\n")
	args := []string{"netns", "exec", netns, "unshare", "--mount", "--uts", "--propagation", "private", "--",
		"/bin/sh", "-c", script.String(), "sh", c.argv[0]}
	cmd := exec.Command("ip", append(args, c.argv[1:]...)...)
	cmd.Env = c.env
	cmd.Dir = "/"
	if c.spec.WorkingDir != "" {
		cmd.Dir = c.spec.WorkingDir
	}
	return cmd
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// maybeStart starts a container that is not running, once its back-off has
// passed.
func (w *podWorker) maybeStart(ctx context.Context, c *container, pod *corev1.Pod) error {
	if c.proc != nil || c.finished || time.Now().Before(c.nextStart) {
		return nil
	}
	if c.logs == nil {
		sink, err := openLogSink(c.logPath)
		if err != nil {
			return fmt.Errorf("opening the log of %s: %w", c.spec.Name, err)
		}
		c.logs = sink
	}
	cmd := c.command(w.net.netns)
	cmd.Stdout, cmd.Stderr = c.logs.stream("stdout"), c.logs.stream("stderr")
	cmd.WaitDelay = 2 * time.Second // a child that keeps the pipes open must not block Wait
	p, err := startProcess(w.k.l, cmd)
	if err != nil {
		c.nextStart = time.Now().Add(c.backoff)
		return fmt.Errorf("starting container %s: %w", c.spec.Name, err)
	}
	if c.lastTerm != nil {
		c.restarts++
	}
	c.proc, c.startedAt = p, time.Now()
	c.resetProbes()
	w.k.logf("kubelet: %s/%s: started %s (pid %d)", pod.Namespace, pod.Name, c.spec.Name, p.cmd.Process.Pid)
	w.k.event(ctx, pod, corev1.EventTypeNormal, "Started", fmt.Sprintf("Started container %s as pid %d", c.spec.Name, p.cmd.Process.Pid))
	return nil
}

// reap notices an exited container, records how it ended and schedules its
// restart according to the Pod's restart policy.
func (w *podWorker) reap(c *container, pod *corev1.Pod) {
	if c.proc == nil || !c.proc.exited() {
		return
	}
	code := exitCode(c.proc.cmd.ProcessState)
	reason := "Completed"
	if code != 0 {
		reason = "Error"
	}
	c.lastTerm = &corev1.ContainerStateTerminated{
		ExitCode: code, Reason: reason,
		StartedAt: metav1Time(c.startedAt), FinishedAt: metav1Time(time.Now()),
	}
	ranFor := time.Since(c.startedAt)
	c.proc, c.ready, c.started, c.killing = nil, false, false, false
	w.k.logf("kubelet: %s/%s: container %s exited with %d after %s", pod.Namespace, pod.Name, c.spec.Name, code, ranFor.Round(time.Millisecond))
	policy := pod.Spec.RestartPolicy
	if policy == corev1.RestartPolicyNever || (policy == corev1.RestartPolicyOnFailure && code == 0) {
		c.finished = true
		return
	}
	if ranFor > stableRunFor {
		c.backoff = time.Second
	}
	c.nextStart = time.Now().Add(c.backoff)
	c.backoff = min(2*c.backoff, maxBackoff)
}

// exitCode reports a death by signal as 128+signal, like a container runtime.
func exitCode(ps *os.ProcessState) int32 {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int32(ws.Signal())
	}
	return int32(ps.ExitCode())
}
