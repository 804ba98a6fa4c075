// Command localcluster brings a local Kubernetes cluster (etcd,
// kube-apiserver, kube-controller-manager and a process kubelet) up and down
// without Docker. Run it as root from the conformance/ directory:
//
//	go run ./cmd/localcluster build
//	go run ./cmd/localcluster up [--name N] [--weir-binary PATH]
//	go run ./cmd/localcluster down [--name N]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"weir.dev/weir/conformance/localcluster"
)

func main() {
	log.SetFlags(log.Ltime | log.Lmicroseconds)
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "build":
		err = build(ctx)
	case "up":
		err = up(ctx, args)
	case "down":
		err = down(ctx, args)
	default:
		usage()
	}
	if err != nil {
		log.Printf("localcluster: %v", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: localcluster build | up [--name N] [--weir-binary PATH] | down [--name N]")
	os.Exit(2)
}

func build(ctx context.Context) error {
	start := time.Now()
	bins, err := localcluster.BuildBinaries(ctx, log.Printf)
	if err != nil {
		return err
	}
	log.Printf("binaries ready in %s", time.Since(start).Round(time.Second))
	fmt.Println(bins.Dir)
	return nil
}

func up(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("up", flag.ExitOnError)
	name := fs.String("name", localcluster.DefaultName, "cluster name; ports and addresses derive from it")
	weir := fs.String("weir-binary", "", "binary to run for images whose name contains \"weir\"")
	_ = fs.Parse(args)
	c, err := localcluster.Up(ctx, localcluster.Options{Name: *name, WeirBinary: *weir, Logf: log.Printf})
	if err != nil {
		return err
	}
	fmt.Printf("\nCluster %q is up (%s). In another shell:\n\n  export KUBECONFIG=%s\n  kubectl get nodes\n\nNetwork %s: Pods .2-.199, LoadBalancer Services .200-.247 (.248-.254 on request);\nstate and logs in %s.\nPress Ctrl-C to stop and clean up.\n\n",
		c.Name, c.Started.Round(time.Millisecond), c.Kubeconfig, c.PodCIDR, c.StateDir)
	<-ctx.Done()
	log.Printf("stopping cluster %q", c.Name)
	downCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return c.Down(downCtx)
}

func down(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("down", flag.ExitOnError)
	name := fs.String("name", localcluster.DefaultName, "cluster name")
	_ = fs.Parse(args)
	if os.Geteuid() != 0 {
		return errors.New("down needs root to remove network namespaces and links")
	}
	if err := localcluster.Down(ctx, *name); err != nil {
		return err
	}
	if left := localcluster.Leftovers(ctx, *name); len(left) > 0 {
		return fmt.Errorf("left behind: %v", left)
	}
	log.Printf("cluster %q is down; nothing left behind", *name)
	return nil
}
