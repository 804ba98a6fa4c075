package localcluster

import (
	"fmt"
	"hash/fnv"
	"net/netip"
	"path/filepath"
	"regexp"
)

// layout is everything derived from a cluster's name. Two clusters with
// different names get different values unless their index collides, which Up
// detects.
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

func newLayout(name string) (layout, error) {
	if !validName.MatchString(name) {
		return layout{}, fmt.Errorf("cluster name %q: want 1-32 lower-case letters, digits or dashes", name)
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	idx := int(h.Sum32()%200) + 10
	return layoutFor(name, idx), nil
}

func layoutFor(name string, idx int) layout {
	base := 21000 + idx*10
	bridge := netip.AddrFrom4([4]byte{10, 244, byte(idx), 1})
	return layout{
		name:           name,
		index:          idx,
		stateDir:       filepath.Join(stateRoot, "weir-cluster-"+name),
		bridge:         fmt.Sprintf("weirbr%d", idx),
		vethPfx:        fmt.Sprintf("weirv%d", idx),
		netnsPfx:       "weir-" + name + "-",
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
