package localcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Logf receives progress messages; fmt.Printf-style.
type Logf func(format string, args ...any)

func discardLogf(string, ...any) {}

// DefaultName is the cluster name when Options.Name is empty.
const DefaultName = "default"

// Options configure Up. The zero value is usable.
type Options struct {
	// Name identifies the cluster; ports, addresses and the state directory
	// derive from it. Default DefaultName.
	Name string
	// Binaries to run; nil builds (or reuses) the cached ones.
	Binaries *Binaries
	// WeirBinary runs any image whose name contains "weir". Empty: such
	// images are unknown and their Pods stay Pending.
	WeirBinary string
	// Images are extra image rules, tried before the built-in ones.
	Images []ImageRule
	// Logf receives progress messages. Default: discarded.
	Logf Logf
	// StartTimeout bounds Up once the binaries exist. Default 2 minutes.
	StartTimeout time.Duration
}

// Cluster is a running local cluster.
type Cluster struct {
	Name       string
	StateDir   string       // everything the cluster writes, removed by Down
	Kubeconfig string       // admin kubeconfig (static token)
	Server     string       // kube-apiserver URL
	CAFile     string       // CA that signed the serving certificate
	Token      string       // admin bearer token (system:masters)
	PodCIDR    netip.Prefix // Pod addresses, 10.244.N.0/24
	BridgeAddr netip.Addr   // the bridge's address; kube-apiserver listens here
	NodeName   string
	Config     *rest.Config
	Client     kubernetes.Interface
	// Started is how long Up took once the binaries existed.
	Started time.Duration

	l       layout
	logf    Logf
	muted   *atomic.Bool // set once the caller's Logf must not be called
	procs   []*process   // etcd, kube-apiserver, kube-controller-manager
	kubelet *kubelet
	cancel  context.CancelFunc
	stopLB  func() // closes the load balancer's ports; nil before it started
}

// Up starts a cluster and returns once kube-apiserver is ready, the kubelet's
// Node is registered and the default ServiceAccount exists. A leftover of an
// earlier cluster with the same name is cleaned first.
func Up(ctx context.Context, opts Options) (*Cluster, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the local cluster needs root: the kubelet creates network and mount namespaces; run as root (sudo)")
	}
	if err := checkIP(); err != nil {
		return nil, err
	}
	opts = withDefaults(opts)
	if err := Down(ctx, opts.Name); err != nil {
		return nil, fmt.Errorf("cleaning a leftover cluster %q: %w", opts.Name, err)
	}
	l, err := claimLayout(ctx, opts.Name)
	if err != nil {
		return nil, err
	}
	bins, err := binariesFor(ctx, opts)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	c, err := boot(ctx, l, opts, bins)
	if err != nil {
		_ = Down(context.Background(), opts.Name)
		return nil, err
	}
	c.Started = time.Since(start)
	opts.Logf("cluster %s up in %s: export KUBECONFIG=%s", c.Name, c.Started.Round(time.Millisecond), c.Kubeconfig)
	return c, nil
}

func withDefaults(o Options) Options {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Logf == nil {
		o.Logf = discardLogf
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 2 * time.Minute
	}
	// Containers run with / as their working directory.
	if o.WeirBinary != "" {
		if abs, err := filepath.Abs(o.WeirBinary); err == nil {
			o.WeirBinary = abs
		}
	}
	return o
}

func binariesFor(ctx context.Context, o Options) (Binaries, error) {
	if o.Binaries != nil {
		return *o.Binaries, nil
	}
	return BuildBinaries(ctx, o.Logf)
}

// boot lays out the state directory and starts every part in order.
func boot(ctx context.Context, l layout, opts Options, bins Binaries) (*Cluster, error) {
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	for _, d := range []string{"pids", "logs", "pods", "apiserver-certs"} {
		if err := os.MkdirAll(l.path(d), 0o755); err != nil {
			return nil, fmt.Errorf("creating the state directory: %w", err)
		}
	}
	recordOwner(l)
	token, err := writeSecrets(l)
	if err != nil {
		return nil, err
	}
	muted := new(atomic.Bool)
	logf := func(format string, args ...any) {
		if !muted.Load() {
			opts.Logf(format, args...)
		}
	}
	c := &Cluster{
		Name: l.name, StateDir: l.stateDir, Kubeconfig: l.path("kubeconfig"),
		Server: l.apiserverURL(), CAFile: l.path("ca.crt"), Token: token,
		PodCIDR: l.podPrefix, BridgeAddr: l.bridgeAddr, NodeName: l.nodeName(),
		l: l, logf: logf, muted: muted,
	}
	if err := createBridge(ctx, l); err != nil {
		return nil, err
	}
	if err := c.startControlPlane(ctx, bins); err != nil {
		return nil, err
	}
	if err := c.startKubelet(ctx, opts, bins); err != nil {
		return nil, err
	}
	if err := c.startLoadBalancer(ctx); err != nil {
		c.cancel()
		return nil, err
	}
	if err := c.waitDefaultServiceAccount(ctx); err != nil {
		c.stopLB() // stop the goroutines; Up's cleanup does the rest
		c.cancel()
		return nil, err
	}
	return c, nil
}

func writeSecrets(l layout) (string, error) {
	if err := writePKI(l); err != nil {
		return "", err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating the admin token: %w", err)
	}
	token := hex.EncodeToString(b)
	line := token + `,admin,admin-uid,"system:masters"` + "\n"
	if err := os.WriteFile(l.path("tokens.csv"), []byte(line), 0o600); err != nil {
		return "", fmt.Errorf("writing the token file: %w", err)
	}
	if err := writeKubeconfig(l, token); err != nil {
		return "", err
	}
	return token, nil
}

func (c *Cluster) startControlPlane(ctx context.Context, bins Binaries) error {
	l := c.l
	httpc, err := httpClientFor(l)
	if err != nil {
		return err
	}
	etcd, err := startEtcd(l, bins.Etcd)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, etcd)
	etcdHealth := fmt.Sprintf("http://127.0.0.1:%d/health", l.etcdClientPort)
	if err := waitHTTP(ctx, httpc, etcdHealth, "", etcd, l.path("logs", "etcd.log")); err != nil {
		return fmt.Errorf("waiting for etcd: %w", err)
	}
	api, err := startAPIServer(l, bins.KubeAPIServer)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, api)
	if err := waitHTTP(ctx, httpc, l.apiserverURL()+"/readyz", c.Token, api, l.path("logs", "kube-apiserver.log")); err != nil {
		return fmt.Errorf("waiting for kube-apiserver: %w", err)
	}
	c.logf("kube-apiserver ready at %s", l.apiserverURL())
	if err := c.connect(); err != nil {
		return err
	}
	kcm, err := startControllerManager(l, bins.KubeControllerManager)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, kcm)
	return nil
}

func (c *Cluster) connect() error {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return fmt.Errorf("loading the kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating the client: %w", err)
	}
	c.Config, c.Client = cfg, client
	return nil
}

// waitDefaultServiceAccount waits for what every Pod needs before admission
// accepts it: the default ServiceAccount and the root CA ConfigMap.
func (c *Cluster) waitDefaultServiceAccount(ctx context.Context) error {
	for {
		_, errSA := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		_, errCM := c.Client.CoreV1().ConfigMaps("default").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		if errSA == nil && errCM == nil {
			return nil
		}
		if err := firstReal(errSA, errCM); err != nil && ctx.Err() == nil {
			c.logf("waiting for the default ServiceAccount: %v", err)
		}
		if c.procs[2].exited() {
			return fmt.Errorf("kube-controller-manager exited; log tail:\n%s", tail(c.l.path("logs", "kube-controller-manager.log"), 30))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the default ServiceAccount and kube-root-ca.crt: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func firstReal(errs ...error) error {
	for _, err := range errs {
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}

// Down stops the cluster: the kubelet stops its Pods, then the control plane
// stops, and everything the cluster created is removed.
func (c *Cluster) Down(ctx context.Context) error {
	if c.stopLB != nil {
		c.stopLB()
	}
	if c.cancel != nil {
		c.cancel()
		select {
		case <-c.kubelet.done:
		case <-time.After(30 * time.Second):
			c.logf("kubelet did not stop in 30s; killing what is left")
		}
	}
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].stop(5 * time.Second)
	}
	return Down(ctx, c.Name)
}

// Down removes everything of the cluster called name: the processes recorded
// in its state directory, its network namespaces, veths and bridge, the mount
// points it created and the state directory. It works after a crash and when
// nothing is left.
func Down(ctx context.Context, name string) error {
	l, err := newLayout(name)
	if err != nil {
		return err
	}
	stopOwner(l)
	killRecorded(l)
	cleanupNetwork(ctx, l)
	removeCreatedDirs(l)
	if err := os.RemoveAll(l.stateDir); err != nil {
		return fmt.Errorf("removing %s: %w", l.stateDir, err)
	}
	return nil
}

// Leftovers lists what Down would remove for a cluster name; empty after Down.
func Leftovers(ctx context.Context, name string) []string {
	l, err := newLayout(name)
	if err != nil {
		return nil
	}
	var left []string
	for _, ns := range listNetns(ctx, l.netnsPfx) {
		left = append(left, "netns "+ns)
	}
	if linkExists(ctx, l.bridge) {
		left = append(left, "bridge "+l.bridge)
	}
	out, _ := ipOutput(ctx, "-o", "link", "show")
	if strings.Contains(out, l.vethPfx) {
		left = append(left, "veth "+l.vethPfx+"*")
	}
	if _, err := os.Stat(l.stateDir); err == nil {
		left = append(left, "dir "+l.stateDir)
	}
	return left
}

// PodLogPath is the file holding a container's output (all restarts).
func (c *Cluster) PodLogPath(pod *corev1.Pod, container string) string {
	return c.l.path("pods", podDirName(pod), container+".log")
}
