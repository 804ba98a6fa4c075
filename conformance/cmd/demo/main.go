// Command demo shows Weir working in a cluster in one command (`make demo`,
// as root): it brings the local cluster up, deploys Weir from deploy/base,
// applies deploy/examples/demo-cluster.yaml (echo v1 and v2, a main Ingress
// and a canary Ingress), sends a few hundred requests and prints the split,
// prints curl lines to try from this machine, and serves until SIGINT or
// SIGTERM; then it removes the cluster and everything it left.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"weir.dev/weir/conformance/localcluster"
	"weir.dev/weir/conformance/weirdeploy"
)

const host = "app.example.com"

func main() {
	log.SetFlags(log.Ltime)
	name := flag.String("name", "demo", "cluster name")
	requests := flag.Int("requests", 500, "requests sent to show the split")
	flag.Parse()
	if os.Geteuid() != 0 {
		log.Fatal("demo: the local cluster needs root (network and mount namespaces); run it with sudo")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *name, *requests); err != nil {
		log.Printf("demo: %v", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, name string, requests int) (err error) {
	tmp, err := os.MkdirTemp("", "weir-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	root, err := weirdeploy.RepoRoot(ctx)
	if err != nil {
		return err
	}
	log.Printf("building the cluster binaries (cached after the first time) and weir")
	if _, err := localcluster.BuildBinaries(ctx, log.Printf); err != nil {
		return err
	}
	bin := filepath.Join(tmp, "weir")
	if err := weirdeploy.BuildWeir(ctx, root, bin); err != nil {
		return err
	}
	c, err := localcluster.Up(ctx, localcluster.Options{Name: name, WeirBinary: bin, Logf: log.Printf})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, tearDown(c)) }()
	log.Printf("cluster %q up in %v; deploying Weir from deploy/base", c.Name, c.Started.Round(time.Millisecond))
	url, err := deploy(ctx, c, root)
	if err != nil {
		return err
	}
	split(url, requests)
	printUsage(c, url)
	<-ctx.Done()
	log.Printf("interrupted: removing cluster %q", c.Name)
	return nil
}

// deploy runs Weir and the example app, and waits until both versions answer.
func deploy(ctx context.Context, c *localcluster.Cluster, root string) (string, error) {
	pods, err := weirdeploy.Deploy(ctx, c, root, weirdeploy.Options{ExtraArgs: []string{"--shutdown-delay=0s"}})
	if err != nil {
		return "", err
	}
	addr, err := weirdeploy.WaitAddress(ctx, c)
	if err != nil {
		return "", err
	}
	url := "http://" + addr // deploy/base's LoadBalancer Service, in front of both replicas
	metricsHost = pods[0].Status.PodIP
	app, err := os.ReadFile(filepath.Join(root, "deploy", "examples", "demo-cluster.yaml"))
	if err != nil {
		return "", err
	}
	log.Printf("Weir's 2 replicas are Ready behind %s; applying deploy/examples/demo-cluster.yaml", url)
	if err := c.ApplyYAML(ctx, app, "default"); err != nil {
		return "", err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for svc, n := range map[string]int{"app-v1": 2, "app-v2": 1} {
		if err := c.WaitEndpointsReady(wctx, "default", svc, n); err != nil {
			return "", err
		}
	}
	for _, want := range []string{"app-v1", "app-v2"} {
		if err := waitVersion(wctx, url, want); err != nil {
			return "", err
		}
	}
	return url, nil
}

// waitVersion waits until a request pinned to want's side is answered by it.
func waitVersion(ctx context.Context, url, want string) error {
	pin := "never"
	if want == "app-v2" {
		pin = "always"
	}
	for {
		if pod, err := send(url, http.Header{"X-Canary": {pin}}); err == nil && strings.HasPrefix(pod, want+"-") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer from %s through Weir: %w", want, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

var client = &http.Client{Timeout: 5 * time.Second}

// send sends GET / for app.example.com and returns the answering Pod.
func send(url string, h http.Header) (string, error) {
	req, err := http.NewRequest(http.MethodGet, url+"/", nil)
	if err != nil {
		return "", err
	}
	req.Host = host
	req.Header = h
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	var e struct {
		Pod string `json:"pod"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return "", err
	}
	return e.Pod, nil
}

// split sends n plain requests and prints which version and Pod answered.
func split(url string, n int) {
	perPod := map[string]int{}
	versions := map[string]int{}
	failed := 0
	for i := 0; i < n; i++ {
		pod, err := send(url, nil)
		if err != nil {
			failed++
			continue
		}
		perPod[pod]++
		versions[deployment(pod)]++
	}
	fmt.Printf("\n%d requests to %s through Weir (canary weight 20 %%):\n", n, host)
	for _, v := range []string{"app-v1", "app-v2"} {
		fmt.Printf("  %-7s %4d  (%.1f %%)\n", v, versions[v], 100*float64(versions[v])/float64(n))
	}
	pods := make([]string, 0, len(perPod))
	for p := range perPod {
		pods = append(pods, p)
	}
	sort.Strings(pods)
	for _, p := range pods {
		fmt.Printf("    pod %-28s %4d\n", p, perPod[p])
	}
	if failed > 0 {
		fmt.Printf("  failed  %4d\n", failed)
	}
}

// deployment is the Deployment of a Pod named "<deployment>-<hash>-<suffix>".
func deployment(pod string) string {
	parts := strings.Split(pod, "-")
	if len(parts) < 3 {
		return pod
	}
	return strings.Join(parts[:len(parts)-2], "-")
}

// metricsHost is one Weir Pod's address; metrics are per replica.
var metricsHost string

func printUsage(c *localcluster.Cluster, url string) {
	h := "-H 'Host: " + host + "'"
	fmt.Printf(`
Try it (the answer's "pod" says which version served you):

  curl -s %[1]s %[2]s/                              # 80 %% v1, 20 %% v2
  curl -s %[1]s -H 'X-Canary: always' %[2]s/        # always v2 (header rule)
  curl -s %[1]s -H 'X-Canary: never' %[2]s/         # always v1
  curl -s %[1]s --cookie canary=always %[2]s/       # always v2 (cookie rule)
  curl -s %[1]s --cookie canary=never %[2]s/        # always v1

The cluster's API:  export KUBECONFIG=%[3]s
One replica's metrics: curl -s http://%[4]s:10254/metrics

Press Ctrl-C to stop; the cluster and everything it made are removed.
`, h, url, c.Kubeconfig, metricsHost)
}

// tearDown removes the cluster and checks nothing is left.
func tearDown(c *localcluster.Cluster) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Down(ctx); err != nil {
		return err
	}
	if left := localcluster.Leftovers(ctx, c.Name); len(left) > 0 {
		return fmt.Errorf("cluster %s left behind: %v", c.Name, left)
	}
	log.Printf("cluster %q removed; nothing left behind", c.Name)
	return nil
}
