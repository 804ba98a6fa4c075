package localcluster

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// layout is everything derived from a cluster's name and index. The index
// starts at a hash of the name and moves on to the next free one, so that two
// live clusters never share a bridge, ports or pod range.
type layout struct {
	name  string
	index int // 10..209: third octet of the pod range, and port block

	stateDir string
	bridge   string // Linux interface names are limited to 15 bytes
	vethPfx  string // host side of each Pod's veth pair
	netnsPfx string // prefix of each Pod's network namespace name

	podPrefix  netip.Prefix // 10.244.index.0/24
	bridgeAddr netip.Addr   // 10.244.index.1, also where kube-apiserver listens

	etcdClientPort int
	etcdPeerPort   int
	apiserverPort  int
	kubeletPort    int
}

var validName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)

// stateRoot holds one directory per cluster; a variable so tests could move it.
var stateRoot = "/tmp"

// newLayout is the layout of an existing or future cluster: the index
// recorded in its state directory, else the one its name hashes to.
func newLayout(name string) (layout, error) {
	if !validName.MatchString(name) {
		return layout{}, fmt.Errorf("cluster name %q: want 1-32 lower-case letters, digits or dashes", name)
	}
	l := layoutFor(name, hashIndex(name))
	if b, err := os.ReadFile(l.path("index")); err == nil {
		if idx, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && idx >= minIndex && idx < minIndex+numIndex {
			return layoutFor(name, idx), nil
		}
	}
	return l, nil
}

const minIndex, numIndex = 10, 200

func hashIndex(name string) int {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int(h.Sum32()%numIndex) + minIndex
}

// claimLayout picks the first free index from the name's hash on and records
// it in a new state directory. A lock on the state root serialises
// concurrent claims (a lock file would be left behind); an
// index is taken when another state directory records it or its bridge
// exists.
func claimLayout(ctx context.Context, name string) (layout, error) {
	if _, err := newLayout(name); err != nil {
		return layout{}, err
	}
	unlock, err := lockDir(stateRoot)
	if err != nil {
		return layout{}, err
	}
	defer unlock()
	taken := claimedIndexes()
	start := hashIndex(name)
	for i := range numIndex {
		idx := minIndex + (start-minIndex+i)%numIndex
		l := layoutFor(name, idx)
		if taken[idx] || linkExists(ctx, l.bridge) {
			continue
		}
		if err := os.MkdirAll(l.stateDir, 0o755); err != nil {
			return layout{}, fmt.Errorf("creating the state directory: %w", err)
		}
		if err := os.WriteFile(l.path("index"), []byte(strconv.Itoa(idx)), 0o644); err != nil {
			return layout{}, fmt.Errorf("recording the cluster index: %w", err)
		}
		return l, nil
	}
	return layout{}, fmt.Errorf("all %d cluster slots are in use; run localcluster down for old clusters", numIndex)
}

func claimedIndexes() map[int]bool {
	taken := map[int]bool{}
	files, _ := filepath.Glob(filepath.Join(stateRoot, "weir-cluster-*", "index"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if idx, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			taken[idx] = true
		}
	}
	return taken
}

// The last byte of an address in the cluster's /24: .1 is the bridge, Pods
// get .2-.199 (ipam), and LoadBalancer Services get addresses from the rest,
// as MetalLB's L2 mode hands out addresses of the node's segment: .200-.247
// to any Service, .248-.254 only when a Service asks for one (static
// addresses, as a pool with autoAssign off).
const (
	lastPodHost    = 199
	firstLBHost    = 200
	firstStaticLB  = 248
	lastLBHost     = 254
	numAutoLBHosts = firstStaticLB - firstLBHost
)

// hostAddr is the address of the cluster's /24 ending in last.
func (l layout) hostAddr(last int) netip.Addr {
	a := l.podPrefix.Addr().As4()
	a[3] = byte(last)
	return netip.AddrFrom4(a)
}

func layoutFor(name string, idx int) layout {
	base := 21000 + idx*10
	bridge := netip.AddrFrom4([4]byte{10, 244, byte(idx), 1})
	return layout{
		name:     name,
		index:    idx,
		stateDir: filepath.Join(stateRoot, "weir-cluster-"+name),
		bridge:   fmt.Sprintf("weirbr%d", idx),
		// The separators end each prefix where no other cluster's names
		// continue it: "weirv10-" is not a prefix of index 100's veths, and
		// no cluster name holds '_', so "weir-e2e_" is not one of cluster
		// e2e-x's namespaces (cleanup deletes whatever matches).
		vethPfx:        fmt.Sprintf("weirv%d-", idx),
		netnsPfx:       "weir-" + name + "_",
		podPrefix:      netip.PrefixFrom(bridge, 24).Masked(),
		bridgeAddr:     bridge,
		etcdClientPort: base,
		etcdPeerPort:   base + 1,
		apiserverPort:  base + 2,
		kubeletPort:    base + 3,
	}
}

func (l layout) path(elem ...string) string {
	return filepath.Join(append([]string{l.stateDir}, elem...)...)
}

// nodeName is the name of the Node the cluster's kubelet registers.
func (l layout) nodeName() string { return "weir-" + l.name }

// apiserverURL is where kube-apiserver serves; the bridge address is reachable
// both from the root namespace and from every Pod.
func (l layout) apiserverURL() string {
	return fmt.Sprintf("https://%s:%d", l.bridgeAddr, l.apiserverPort)
}
