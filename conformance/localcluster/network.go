package localcluster

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"time"
)

// The network is built with iproute2's ip command: a bridge in the root
// namespace holding the first address of the cluster's /24, and per Pod a
// named network namespace joined to it by a veth pair. There is no route or
// NAT towards the outside, so nothing a Pod sends can leave the machine.

func ip(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func ipOutput(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).Output()
	if err != nil {
		return "", fmt.Errorf("ip %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

func checkIP() error {
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("the local cluster needs iproute2's ip command (apt-get install iproute2): %w", err)
	}
	return nil
}

// createBridge creates the cluster's bridge with its address and brings it up.
func createBridge(ctx context.Context, l layout) error {
	if err := ip(ctx, "link", "add", l.bridge, "type", "bridge"); err != nil {
		return fmt.Errorf("creating bridge: %w", err)
	}
	addr := netip.PrefixFrom(l.bridgeAddr, l.podPrefix.Bits()).String()
	if err := ip(ctx, "addr", "add", addr, "dev", l.bridge); err != nil {
		return fmt.Errorf("addressing bridge: %w", err)
	}
	if err := ip(ctx, "link", "set", l.bridge, "up"); err != nil {
		return fmt.Errorf("bringing bridge up: %w", err)
	}
	return nil
}

// podNet names one Pod's network namespace and host-side veth.
type podNet struct {
	netns string
	veth  string
	addr  netip.Addr
}

func newPodNet(l layout, uid string, addr netip.Addr) podNet {
	short := strings.ReplaceAll(uid, "-", "")
	if len(short) > 6 {
		short = short[:6]
	}
	return podNet{netns: l.netnsPfx + short, veth: l.vethPfx + short, addr: addr}
}

// setupPodNet creates the namespace, the veth pair (eth0 inside), addresses,
// loopback and the default route via the bridge.
func setupPodNet(ctx context.Context, l layout, n podNet) error {
	teardownPodNet(ctx, n) // a leftover of an earlier attempt
	steps := [][]string{
		{"netns", "add", n.netns},
		{"link", "add", n.veth, "type", "veth", "peer", "name", "eth0", "netns", n.netns},
		{"link", "set", n.veth, "master", l.bridge},
		{"link", "set", n.veth, "up"},
		{"-n", n.netns, "link", "set", "lo", "up"},
		{"-n", n.netns, "addr", "add", netip.PrefixFrom(n.addr, l.podPrefix.Bits()).String(), "dev", "eth0"},
		{"-n", n.netns, "link", "set", "eth0", "up"},
		{"-n", n.netns, "route", "add", "default", "via", l.bridgeAddr.String()},
	}
	for _, s := range steps {
		if err := ip(ctx, s...); err != nil {
			teardownPodNet(ctx, n)
			return fmt.Errorf("setting up pod network %s: %w", n.netns, err)
		}
	}
	return nil
}

// teardownPodNet deletes the namespace (which deletes the veth pair) and the
// host side in case the namespace was already gone.
func teardownPodNet(ctx context.Context, n podNet) {
	_ = ip(ctx, "netns", "del", n.netns)
	_ = ip(ctx, "link", "del", n.veth)
}

// cleanupNetwork removes every namespace, veth and the bridge of a cluster.
func cleanupNetwork(ctx context.Context, l layout) {
	for _, ns := range listNetns(ctx, l.netnsPfx) {
		_ = ip(ctx, "netns", "del", ns)
	}
	out, _ := ipOutput(ctx, "-o", "link", "show")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if strings.HasPrefix(name, l.vethPfx) {
			_ = ip(ctx, "link", "del", name)
		}
	}
	if linkExists(ctx, l.bridge) {
		_ = ip(ctx, "link", "del", l.bridge)
	}
}

// ListNetns lists the named network namespaces whose name starts with prefix.
func listNetns(ctx context.Context, prefix string) []string {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	return names
}

func linkExists(ctx context.Context, name string) bool {
	return ip(ctx, "link", "show", name) == nil
}
