package localcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// The control plane: etcd, kube-apiserver and kube-controller-manager as
// child processes, each logging to logs/<name>.log in the state directory.

const serviceCIDR = "10.96.0.0/16"

// controllers are the kube-controller-manager controllers the cluster needs;
// there is no scheduler (the kubelet binds Pods) and no node lifecycle.
var controllers = []string{
	"deployment-controller",
	"replicaset-controller",
	"endpointslice-controller",
	"namespace-controller",
	"garbage-collector-controller",
	"serviceaccount-controller",
	"serviceaccount-token-controller",
	"root-ca-certificate-publisher-controller",
	"clusterrole-aggregation-controller", // fills admin, edit and view
}

func startDaemon(l layout, name, bin string, args ...string) (*process, error) {
	logFile, err := os.OpenFile(l.path("logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening %s's log: %w", name, err)
	}
	defer logFile.Close() // the child keeps its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Dir = l.stateDir
	p, err := startProcess(l, cmd)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	return p, nil
}

func startEtcd(l layout, bin string) (*process, error) {
	client := fmt.Sprintf("http://127.0.0.1:%d", l.etcdClientPort)
	peer := fmt.Sprintf("http://127.0.0.1:%d", l.etcdPeerPort)
	return startDaemon(l, "etcd", bin,
		"--name=weir",
		"--data-dir="+l.path("etcd"),
		"--listen-client-urls="+client,
		"--advertise-client-urls="+client,
		"--listen-peer-urls="+peer,
		"--initial-advertise-peer-urls="+peer,
		"--initial-cluster=weir="+peer,
		"--unsafe-no-fsync", // a throw-away cluster: speed over durability
		"--log-level=warn",
	)
}

func startAPIServer(l layout, bin string) (*process, error) {
	return startDaemon(l, "kube-apiserver", bin,
		"--etcd-servers="+fmt.Sprintf("http://127.0.0.1:%d", l.etcdClientPort),
		"--bind-address="+l.bridgeAddr.String(),
		"--advertise-address="+l.bridgeAddr.String(),
		"--secure-port="+strconv.Itoa(l.apiserverPort),
		"--tls-cert-file="+l.path("apiserver.crt"),
		"--tls-private-key-file="+l.path("apiserver.key"),
		"--client-ca-file="+l.path("ca.crt"),
		"--token-auth-file="+l.path("tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+l.path("sa.pub"),
		"--service-account-signing-key-file="+l.path("sa.key"),
		"--service-cluster-ip-range="+serviceCIDR,
		"--endpoint-reconciler-type=none",
		"--cert-dir="+l.path("apiserver-certs"),
		"--enable-priority-and-fairness=false",
		"--kubelet-preferred-address-types=InternalIP",
		"--kubelet-certificate-authority="+l.path("ca.crt"),
		"--kubelet-client-certificate="+l.path("kubelet-client.crt"),
		"--kubelet-client-key="+l.path("kubelet-client.key"),
		"--profiling=false",
		"--v=1",
	)
}

func startControllerManager(l layout, bin string) (*process, error) {
	kc := l.path("kubeconfig")
	return startDaemon(l, "kube-controller-manager", bin,
		"--kubeconfig="+kc,
		"--authentication-kubeconfig="+kc,
		"--authorization-kubeconfig="+kc,
		"--controllers="+strings.Join(controllers, ","),
		"--service-account-private-key-file="+l.path("sa.key"),
		"--root-ca-file="+l.path("ca.crt"),
		"--leader-elect=false",
		"--secure-port=0",
		"--concurrent-deployment-syncs=5",
		"--concurrent-replicaset-syncs=5",
		"--v=1",
	)
}

// waitHTTP polls url until it answers 200 or ctx ends; an exited process
// ends the wait early with its log's tail.
func waitHTTP(ctx context.Context, client *http.Client, url, token string, p *process, logPath string) error {
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if p.exited() {
			return fmt.Errorf("%s exited (%v); log tail:\n%s", url, p.err, tail(logPath, 30))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w; log tail:\n%s", url, ctx.Err(), tail(logPath, 30))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func tail(path string, lines int) string {
	b, _ := os.ReadFile(path)
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// httpClientFor trusts only the cluster's CA; keep-alives off so polling
// leaves no idle connections behind.
func httpClientFor(l layout) (*http.Client, error) {
	pem, err := os.ReadFile(l.path("ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("reading the cluster CA: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		DisableKeepAlives: true,
	}
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}, nil
}

// writeKubeconfig writes the admin kubeconfig (static token) for the cluster.
func writeKubeconfig(l layout, token string) error {
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster:
    server: %[2]s
    certificate-authority: %[3]s
users:
- name: admin
  user:
    token: %[4]s
contexts:
- name: %[1]s
  context:
    cluster: %[1]s
    user: admin
current-context: %[1]s
`, "weir-"+l.name, l.apiserverURL(), l.path("ca.crt"), token)
	if err := os.WriteFile(l.path("kubeconfig"), []byte(kc), 0o600); err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}
	return nil
}
